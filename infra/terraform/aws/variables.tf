# Filled by `kedro cirrus export terraform` (build/terraform/aws/cirrus.auto.tfvars.json) from
# conf/base/deploy.yml, conf/cloud, .dvc/config and the catalog: names are written once, there.

variable "name" {
  description = "deploy.name: prefix of the key, repository and role names."
  type        = string
}

variable "region" {
  description = "AWS region (deploy.targets.sagemaker.region or deploy.region)."
  type        = string
}

variable "data_bucket" {
  description = "Bucket of the storage root and the DVC remote."
  type        = string
}

variable "data_prefix" {
  description = "Key prefix of the storage root inside data_bucket, ending in '/'."
  type        = string
}

variable "dvc_bucket" {
  description = "Bucket of the DVC remote (.dvc/config); the data bucket when they are the same."
  type        = string
}

variable "dvc_prefix" {
  description = "Key prefix of the DVC remote inside dvc_bucket, ending in '/'."
  type        = string
}

variable "pipeline_bucket" {
  description = "deploy.targets.sagemaker.default_bucket: where SageMaker stages pipeline files."
  type        = string
}

variable "prediction_log_prefix" {
  description = "Key prefix of the prediction log (catalog `prediction_log`), ending in '/'."
  type        = string
}

variable "retention_days" {
  description = "The prediction log's retention_days in the catalog: objects expire after it."
  type        = number
}

variable "serving_read_objects" {
  description = "Object keys the API reads: model, feature spec, training and evaluation metrics."
  type        = list(string)
}

variable "registry_repository" {
  description = "ECR repository of deploy.image (its path without registry host and tag)."
  type        = string
}

variable "runner_service_account" {
  description = "deploy.service_account: the Kubernetes service account of every step."
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
  description = "Secret names of deploy.secret_env (the PII salt): read by steps and the API."
  type        = list(string)
}

variable "api_token_secret" {
  description = "Secret name of the API token (targets.kubernetes.serving.token_secret.name)."
  type        = string
}

variable "sagemaker_role_name" {
  description = "Name in deploy.targets.sagemaker.role_arn: the jobs' execution role."
  type        = string
}

variable "scheduler_role_name" {
  description = "Name in schedule_role_arn (default role_arn): EventBridge starts the pipeline as it."
  type        = string
}

variable "ci_repository" {
  description = "owner/name of the git repository whose workflow may assume the CI role."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.ci_repository))
    error_message = "ci_repository must be owner/name, without wildcards."
  }
}

variable "ci_branch" {
  description = "The only branch whose workflow runs may assume the CI role."
  type        = string
  default     = "main"
}

variable "eks_oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider (IRSA)."
  type        = string
}

variable "github_oidc_provider_arn" {
  description = "ARN of the account's IAM OIDC provider for token.actions.githubusercontent.com."
  type        = string
}

variable "kubeconfig_path" {
  description = "kubeconfig of the EKS cluster, for the service accounts."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "kubeconfig context of the EKS cluster; null: the current one."
  type        = string
  default     = null
}
