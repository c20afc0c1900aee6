# The service accounts the Argo workflow and the API's Deployment name, bound to their roles (IRSA).

resource "kubernetes_service_account_v1" "runner" {
  metadata {
    name        = var.runner_service_account
    namespace   = var.kubernetes_namespace
    annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.runner.arn }
  }
  automount_service_account_token = true
}

resource "kubernetes_service_account_v1" "serving" {
  count = var.serving_service_account == var.runner_service_account ? 0 : 1
  metadata {
    name        = var.serving_service_account
    namespace   = var.kubernetes_namespace
    annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.serving.arn }
  }
  automount_service_account_token = true
}
