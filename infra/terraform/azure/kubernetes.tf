# The service accounts the Argo workflow and the API's Deployment name, bound to their managed
# identities (AKS workload identity; pods also need the label azure.workload.identity/use=true).

resource "kubernetes_service_account_v1" "runner" {
  metadata {
    name        = var.runner_service_account
    namespace   = var.kubernetes_namespace
    annotations = { "azure.workload.identity/client-id" = azurerm_user_assigned_identity.runner.client_id }
  }
}

resource "kubernetes_service_account_v1" "serving" {
  count = var.serving_service_account == var.runner_service_account ? 0 : 1
  metadata {
    name        = var.serving_service_account
    namespace   = var.kubernetes_namespace
    annotations = { "azure.workload.identity/client-id" = azurerm_user_assigned_identity.serving.client_id }
  }
}
