# Identities, each allowed only what Cirrus does with it: blob roles narrowed to path prefixes by
# role-assignment conditions, secrets one by one, the registry by pull or push. No keys or client
# secrets: AKS workload identity for pods, the clusters' managed identity for Azure ML steps,
# GitHub through a federated credential.

locals {
  blob_actions = [
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
  ]
  path = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path]"
  # Every blob action (listing aside) only where the path matches.
  not_blob_action = join(" AND ", [for a in local.blob_actions : "!(ActionMatches{'${a}'}${endswith(a, "/read") ? " AND NOT SubOperationMatches{'Blob.List'}" : ""})"])
  under = {
    data = "((${local.not_blob_action}) OR (${local.path} StringStartsWith '${var.data_prefix}'))"
    dvc  = "((${local.not_blob_action}) OR (${local.path} StringStartsWith '${var.dvc_prefix}'))"
    log  = "((${local.not_blob_action}) OR (${local.path} StringStartsWith '${var.prediction_log_prefix}'))"
  }
  served = "((${local.not_blob_action}) OR (${local.path} ForAnyOfAnyValues:StringEquals {${join(", ", [for key in var.serving_read_objects : "'${key}'"])}}))"
  secret_readers = merge(
    { for s in var.runner_secrets : s => { runner = azurerm_user_assigned_identity.runner.principal_id, serving = azurerm_user_assigned_identity.serving.principal_id } },
    { (var.api_token_secret) = { serving = azurerm_user_assigned_identity.serving.principal_id } },
  )
  secret_grants = merge([for secret, readers in local.secret_readers : { for who, id in readers : "${secret} ${who}" => { secret = secret, principal = id } }]...)
  github_issuer = "https://token.actions.githubusercontent.com"
}

resource "azurerm_user_assigned_identity" "runner" {
  name                = var.runner_service_account
  location            = azurerm_resource_group.cirrus.location
  resource_group_name = azurerm_resource_group.cirrus.name
}

resource "azurerm_user_assigned_identity" "serving" {
  name                = var.serving_service_account == var.runner_service_account ? "${var.runner_service_account}-api" : var.serving_service_account
  location            = azurerm_resource_group.cirrus.location
  resource_group_name = azurerm_resource_group.cirrus.name
}

resource "azurerm_user_assigned_identity" "ci" {
  name                = "${var.name}-ci"
  location            = azurerm_resource_group.cirrus.location
  resource_group_name = azurerm_resource_group.cirrus.name
}

# ---------- pipeline runner: Argo steps on AKS and the Azure ML clusters ----------
resource "azurerm_role_assignment" "runner_data" {
  scope                = azurerm_storage_container.cirrus[var.data_container].id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.runner.principal_id
  condition_version    = "2.0"
  condition            = local.under.data
}

resource "azurerm_role_assignment" "runner_pull" {
  scope                = azurerm_container_registry.cirrus.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.runner.principal_id
}

# ---------- serving: reads the model, feature spec and metrics; appends to the prediction log ----------
resource "azurerm_role_assignment" "serving_reads" {
  scope                = azurerm_storage_container.cirrus[var.data_container].id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.serving.principal_id
  condition_version    = "2.0"
  condition            = local.served
}

# Appends part files; deletes only partitions past retention_days (PredictionLog.prune).
resource "azurerm_role_assignment" "serving_log" {
  scope                = azurerm_storage_container.cirrus[var.data_container].id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.serving.principal_id
  condition_version    = "2.0"
  condition            = local.under.log
}

# ---------- secrets: the salt to the runner and the API, the token to the API ----------
resource "azurerm_role_assignment" "secret_readers" {
  for_each             = local.secret_grants
  scope                = azurerm_key_vault_secret.cirrus[each.value.secret].resource_versionless_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = each.value.principal
}

# ---------- AKS workload identity ----------
resource "azurerm_federated_identity_credential" "runner" {
  name                = "aks-${var.runner_service_account}"
  resource_group_name = azurerm_resource_group.cirrus.name
  parent_id           = azurerm_user_assigned_identity.runner.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = var.aks_oidc_issuer_url
  subject             = "system:serviceaccount:${var.kubernetes_namespace}:${var.runner_service_account}"
}

resource "azurerm_federated_identity_credential" "serving" {
  name                = "aks-${var.serving_service_account}"
  resource_group_name = azurerm_resource_group.cirrus.name
  parent_id           = azurerm_user_assigned_identity.serving.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = var.aks_oidc_issuer_url
  subject             = "system:serviceaccount:${var.kubernetes_namespace}:${var.serving_service_account}"
}

# ---------- scheduler: Azure ML schedules start jobs as the workspace identity ----------
resource "azurerm_role_definition" "scheduler" {
  name        = "${var.name}-pipeline-scheduler"
  scope       = azurerm_machine_learning_workspace.cirrus.id
  description = "Submits and schedules Azure ML pipeline jobs in one workspace; nothing else."
  permissions {
    actions = [
      "Microsoft.MachineLearningServices/workspaces/read",
      "Microsoft.MachineLearningServices/workspaces/jobs/read",
      "Microsoft.MachineLearningServices/workspaces/jobs/write",
      "Microsoft.MachineLearningServices/workspaces/schedules/read",
      "Microsoft.MachineLearningServices/workspaces/schedules/write",
      "Microsoft.MachineLearningServices/workspaces/computes/read",
    ]
  }
  assignable_scopes = [azurerm_machine_learning_workspace.cirrus.id]
}

resource "azurerm_role_assignment" "scheduler" {
  for_each           = { workspace = azurerm_user_assigned_identity.workspace.principal_id, ci = azurerm_user_assigned_identity.ci.principal_id }
  scope              = azurerm_machine_learning_workspace.cirrus.id
  role_definition_id = azurerm_role_definition.scheduler.role_definition_resource_id
  principal_id       = each.value
}

# ---------- CI: GitHub Actions of one repository and branch ----------
resource "azurerm_federated_identity_credential" "ci" {
  name                = "github-${replace(var.ci_repository, "/", "-")}-${var.ci_branch}"
  resource_group_name = azurerm_resource_group.cirrus.name
  parent_id           = azurerm_user_assigned_identity.ci.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = local.github_issuer
  subject             = "repo:${var.ci_repository}:ref:refs/heads/${var.ci_branch}"
}

resource "azurerm_role_assignment" "ci_push" {
  scope                = azurerm_container_registry.cirrus.id
  role_definition_name = "AcrPush"
  principal_id         = azurerm_user_assigned_identity.ci.principal_id
}

resource "azurerm_role_assignment" "ci_dvc" {
  scope                = azurerm_storage_container.cirrus[var.dvc_container].id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.ci.principal_id
  condition_version    = "2.0"
  condition            = local.under.dvc
}
