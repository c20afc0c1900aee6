# Exactly what deploy.yml, conf/cloud and .dvc/config need.

output "storage_root" {
  description = "conf/cloud/globals.yml storage_root (or CIRRUS_STORAGE_ROOT); account_name in credentials."
  value       = "abfs://${azurerm_storage_container.cirrus[var.data_container].name}/${trimsuffix(var.data_prefix, "/")}"
}

output "storage_account" {
  description = "account_name of the storage credentials and of the DVC remote."
  value       = azurerm_storage_account.cirrus.name
}

output "dvc_remote_url" {
  description = ".dvc/config remote \"azure\" url (with account_name = storage_account)."
  value       = "azure://${azurerm_storage_container.cirrus[var.dvc_container].name}/${trimsuffix(var.dvc_prefix, "/")}"
}

output "image" {
  description = "deploy.image without its tag."
  value       = "${azurerm_container_registry.cirrus.login_server}/${var.registry_repository}"
}

output "service_account" {
  description = "deploy.service_account (the Kubernetes service account bound to the runner identity)."
  value       = kubernetes_service_account_v1.runner.metadata[0].name
}

output "serving_service_account" {
  description = "deploy.targets.kubernetes.serving.service_account."
  value       = var.serving_service_account
}

output "key_vault_url" {
  description = "deploy.targets.azureml.key_vault_url."
  value       = azurerm_key_vault.cirrus.vault_uri
}

output "compute_clusters" {
  description = "deploy.targets.azureml compute and spot_compute."
  value       = [for c in azurerm_machine_learning_compute_cluster.cirrus : c.name]
}

output "workspace" {
  description = "Azure ML workspace the pipeline jobs are submitted to."
  value       = azurerm_machine_learning_workspace.cirrus.name
}

output "ci_client_id" {
  description = "client-id of the CI workflow's azure/login (repository variable AZURE_CI_CLIENT_ID)."
  value       = azurerm_user_assigned_identity.ci.client_id
}
