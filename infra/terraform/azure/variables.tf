# Filled by `kedro cirrus export terraform` (build/terraform/azure/cirrus.auto.tfvars.json) from
# conf/base/deploy.yml, conf/cloud, .dvc/config and the catalog: names are written once, there.

variable "name" {
  description = "deploy.name: the resource group and the prefix of identity names."
  type        = string
}

variable "location" {
  description = "Azure region of every resource (deploy.region names a Google region, so it is not reused)."
  type        = string
  default     = "westeurope"
}

variable "storage_account" {
  description = "Storage account of the data root and the DVC remote (3-24 lowercase letters, digits)."
  type        = string
}

variable "data_container" {
  description = "Blob container of the storage root and the DVC remote."
  type        = string
}

variable "data_prefix" {
  description = "Blob path prefix of the storage root inside data_container, ending in '/'."
  type        = string
}

variable "dvc_container" {
  description = "Blob container of the DVC remote (.dvc/config); the data container when they are the same."
  type        = string
}

variable "dvc_prefix" {
  description = "Blob path prefix of the DVC remote inside dvc_container, ending in '/'."
  type        = string
}

variable "prediction_log_prefix" {
  description = "Blob path prefix of the prediction log (catalog `prediction_log`), ending in '/'."
  type        = string
}

variable "retention_days" {
  description = "The prediction log's retention_days in the catalog: blobs are deleted after it."
  type        = number
}

variable "serving_read_objects" {
  description = "Blob paths the API reads: model, feature spec, training and evaluation metrics."
  type        = list(string)
}

variable "registry_name" {
  description = "Azure Container Registry name (<name>.azurecr.io hosts deploy.image)."
  type        = string
}

variable "registry_repository" {
  description = "Repository of deploy.image inside the registry."
  type        = string
}

variable "key_vault_name" {
  description = "The Key Vault of deploy.targets.azureml.key_vault_url."
  type        = string
}

variable "runner_service_account" {
  description = "deploy.service_account: Kubernetes service account and managed identity of the steps."
  type        = string
}

variable "serving_service_account" {
  description = "The API's Kubernetes service account (targets.kubernetes.serving.service_account)."
  type        = string
}

variable "kubernetes_namespace" {
  description = "deploy.targets.kubernetes.namespace."
  type        = string
}

variable "runner_secrets" {
  description = "Key Vault secret names of deploy.secret_env (the PII salt): read by steps and the API."
  type        = list(string)
}

variable "api_token_secret" {
  description = "Key Vault secret name of the API token (targets.kubernetes.serving.token_secret.name)."
  type        = string
}

variable "compute_clusters" {
  description = "Azure ML clusters of deploy.targets.azureml: name -> {priority, vm_size, max_nodes}."
  type = map(object({
    priority  = string
    vm_size   = string
    max_nodes = number
  }))
}

variable "ci_repository" {
  description = "owner/name of the git repository whose workflow may sign in as the CI identity."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.ci_repository))
    error_message = "ci_repository must be owner/name, without wildcards."
  }
}

variable "ci_branch" {
  description = "The only branch whose workflow runs may sign in as the CI identity."
  type        = string
  default     = "main"
}

variable "aks_oidc_issuer_url" {
  description = "OIDC issuer URL of the AKS cluster (az aks show --query oidcIssuerProfile.issuerUrl)."
  type        = string
}

variable "allowed_ip_ranges" {
  description = "Public IP ranges (CIDR) allowed through the storage and Key Vault firewalls, e.g. your CI runners."
  type        = list(string)
  default     = []
}

variable "allowed_subnet_ids" {
  description = "Subnets (with the Storage and KeyVault service endpoints) allowed through the firewalls: AKS and Azure ML."
  type        = list(string)
  default     = []
}

variable "kubeconfig_path" {
  description = "kubeconfig of the AKS cluster, for the service accounts."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "kubeconfig context of the AKS cluster; null: the current one."
  type        = string
  default     = null
}
