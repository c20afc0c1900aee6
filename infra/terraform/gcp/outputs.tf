# Exactly what deploy.yml, conf/cloud and .dvc/config need.

output "storage_root" {
  description = "conf/cloud/globals.yml storage_root (or CIRRUS_STORAGE_ROOT)."
  value       = "gs://${module.bucket[var.data_bucket].name}/${trimsuffix(var.data_prefix, "/")}"
}

output "dvc_remote_url" {
  description = ".dvc/config remote \"gcs\" url."
  value       = "gs://${module.bucket[var.dvc_bucket].name}/${trimsuffix(var.dvc_prefix, "/")}"
}

output "image" {
  description = "deploy.image without its tag."
  value       = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.image.repository_id}"
}

output "service_account" {
  description = "deploy.service_account for the vertex target: the runner's email."
  value       = google_service_account.runner.email
}

output "kubernetes_service_account" {
  description = "deploy.service_account for the argo and airflow targets."
  value       = kubernetes_service_account_v1.runner.metadata[0].name
}

output "serving_service_account" {
  description = "deploy.targets.kubernetes.serving.service_account."
  value       = var.serving_service_account
}

output "vertex_pipeline_root" {
  description = "deploy.targets.vertex.pipeline_root."
  value       = "gs://${module.bucket[var.pipeline_bucket].name}/${trimsuffix(var.pipeline_prefix, "/")}"
}

output "scheduler_service_account" {
  description = "Identity that creates the Vertex AI schedule (it runs the pipeline as the runner)."
  value       = google_service_account.scheduler.email
}

output "secret_names" {
  description = "deploy.secret_env values and the API token secret, in Secret Manager."
  value       = [for s in google_secret_manager_secret.cirrus : s.secret_id]
}

output "ci_workload_identity_provider" {
  description = "workload_identity_provider of the CI workflow (repository variable GCP_WIF_PROVIDER)."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "ci_service_account" {
  description = "service_account of the CI workflow (repository variable GCP_CI_SERVICE_ACCOUNT)."
  value       = google_service_account.ci.email
}
