# Filled by `kedro cirrus export terraform` (build/terraform/gcp/cirrus.auto.tfvars.json) from
# conf/base/deploy.yml, conf/cloud, .dvc/config and the catalog: names are written once, there.

variable "name" {
  description = "deploy.name: prefix of the key ring, repository and identity names."
  type        = string
}

variable "project" {
  description = "deploy.targets.vertex.project."
  type        = string
}

variable "region" {
  description = "deploy.region."
  type        = string
}

variable "data_bucket" {
  description = "Bucket of the storage root and the DVC remote."
  type        = string
}

variable "data_prefix" {
  description = "Object prefix of the storage root inside data_bucket, ending in '/'."
  type        = string
}

variable "dvc_bucket" {
  description = "Bucket of the DVC remote (.dvc/config); the data bucket when they are the same."
  type        = string
}

variable "dvc_prefix" {
  description = "Object prefix of the DVC remote inside dvc_bucket, ending in '/'."
  type        = string
}

variable "pipeline_bucket" {
  description = "Bucket of deploy.targets.vertex.pipeline_root."
  type        = string
}

variable "pipeline_prefix" {
  description = "Object prefix of deploy.targets.vertex.pipeline_root, ending in '/'."
  type        = string
}

variable "prediction_log_prefix" {
  description = "Object prefix of the prediction log (catalog `prediction_log`), ending in '/'."
  type        = string
}

variable "retention_days" {
  description = "The prediction log's retention_days in the catalog: objects expire after it."
  type        = number
}

variable "serving_read_objects" {
  description = "Object names the API reads: model, feature spec, training and evaluation metrics."
  type        = list(string)
}

variable "registry_repository" {
  description = "Artifact Registry repository id: the first path segment of deploy.image."
  type        = string
}

variable "runner_service_account" {
  description = "deploy.service_account: the Kubernetes service account and the Vertex runs' identity."
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
  description = "Secret ids of deploy.secret_env (the PII salt): read by steps and the API."
  type        = list(string)
}

variable "api_token_secret" {
  description = "Secret id of the API token (targets.kubernetes.serving.token_secret.name)."
  type        = string
}

variable "ci_repository" {
  description = "owner/name of the git repository whose workflow may impersonate the CI identity."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.ci_repository))
    error_message = "ci_repository must be owner/name, without wildcards."
  }
}

variable "ci_branch" {
  description = "The only branch whose workflow runs may impersonate the CI identity."
  type        = string
  default     = "main"
}

variable "kubeconfig_path" {
  description = "kubeconfig of the GKE cluster, for the service accounts."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "kubeconfig context of the GKE cluster; null: the current one."
  type        = string
  default     = null
}
