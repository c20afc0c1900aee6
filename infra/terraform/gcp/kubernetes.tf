# The service accounts the Argo workflow and the API's Deployment name, bound to their Google
# service accounts (GKE Workload Identity).

resource "kubernetes_service_account_v1" "runner" {
  metadata {
    name        = var.runner_service_account
    namespace   = var.kubernetes_namespace
    annotations = { "iam.gke.io/gcp-service-account" = google_service_account.runner.email }
  }
}

resource "kubernetes_service_account_v1" "serving" {
  count = var.serving_service_account == var.runner_service_account ? 0 : 1
  metadata {
    name        = var.serving_service_account
    namespace   = var.kubernetes_namespace
    annotations = { "iam.gke.io/gcp-service-account" = google_service_account.serving.email }
  }
}
