# Storage, key, registry, secrets and the Azure ML workspace of Cirrus on Azure. Identities are in
# identity.tf, the Kubernetes service accounts in kubernetes.tf, what deploy.yml and .dvc/config
# need in outputs.tf.

data "azurerm_client_config" "current" {}

locals {
  secrets = toset(concat(var.runner_secrets, [var.api_token_secret]))
}

resource "azurerm_resource_group" "cirrus" {
  name     = var.name
  location = var.location
}

# ---------- Key Vault: the customer-managed key and the secrets ----------
resource "azurerm_key_vault" "cirrus" {
  #checkov:skip=CKV_AZURE_189:Public network access stays on so that the firewall below can admit the AKS and Azure ML subnets and CI; default_action is Deny.
  #checkov:skip=CKV2_AZURE_32:A private endpoint needs the user's virtual network; the firewall below admits only allowed_subnet_ids and allowed_ip_ranges.
  name                       = var.key_vault_name
  location                   = azurerm_resource_group.cirrus.location
  resource_group_name        = azurerm_resource_group.cirrus.name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "premium"
  enable_rbac_authorization  = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 90
  network_acls {
    default_action             = "Deny"
    bypass                     = "AzureServices"
    ip_rules                   = var.allowed_ip_ranges
    virtual_network_subnet_ids = var.allowed_subnet_ids
  }
}

# Whoever applies this configuration manages keys and sets the secrets' values.
resource "azurerm_role_assignment" "deployer_keys" {
  scope                = azurerm_key_vault.cirrus.id
  role_definition_name = "Key Vault Crypto Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

resource "azurerm_role_assignment" "deployer_secrets" {
  scope                = azurerm_key_vault.cirrus.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

resource "azurerm_key_vault_key" "cirrus" {
  name            = "${var.name}-data"
  key_vault_id    = azurerm_key_vault.cirrus.id
  key_type        = "RSA-HSM"
  key_size        = 3072
  key_opts        = ["wrapKey", "unwrapKey"]
  expiration_date = timeadd(plantimestamp(), "17520h") # two years; rotation renews it yearly
  rotation_policy {
    automatic {
      time_before_expiry = "P30D"
    }
    expire_after         = "P2Y"
    notify_before_expiry = "P29D"
  }
  lifecycle {
    ignore_changes = [expiration_date]
  }
  depends_on = [azurerm_role_assignment.deployer_keys]
}

# Placeholders only: set the real values with `az keyvault secret set`; Terraform ignores them
# afterwards, so they never enter its state.
resource "azurerm_key_vault_secret" "cirrus" {
  for_each        = local.secrets
  name            = each.value
  value           = "set-with-az-keyvault-secret-set"
  key_vault_id    = azurerm_key_vault.cirrus.id
  content_type    = "text/plain"
  expiration_date = timeadd(plantimestamp(), "8760h")
  lifecycle {
    ignore_changes = [value, expiration_date]
  }
  depends_on = [azurerm_role_assignment.deployer_secrets]
}

# ---------- Storage: the data root and the DVC remote ----------
resource "azurerm_user_assigned_identity" "storage" {
  name                = "${var.name}-storage"
  location            = azurerm_resource_group.cirrus.location
  resource_group_name = azurerm_resource_group.cirrus.name
}

resource "azurerm_role_assignment" "storage_key" {
  scope                = azurerm_key_vault.cirrus.id
  role_definition_name = "Key Vault Crypto Service Encryption User"
  principal_id         = azurerm_user_assigned_identity.storage.principal_id
}

resource "azurerm_storage_account" "cirrus" {
  #checkov:skip=CKV_AZURE_59:Public network access stays on so that network_rules can admit the AKS and Azure ML subnets and CI; default_action is Deny.
  #checkov:skip=CKV2_AZURE_33:A private endpoint needs the user's virtual network; network_rules deny everything not allowed.
  #checkov:skip=CKV_AZURE_33:No queues are used; the queue service has nothing to log.
  name                              = var.storage_account
  resource_group_name               = azurerm_resource_group.cirrus.name
  location                          = azurerm_resource_group.cirrus.location
  account_tier                      = "Standard"
  account_replication_type          = "GRS"
  account_kind                      = "StorageV2"
  https_traffic_only_enabled        = true
  min_tls_version                   = "TLS1_2"
  shared_access_key_enabled         = false
  allow_nested_items_to_be_public   = false
  infrastructure_encryption_enabled = true
  local_user_enabled                = false
  default_to_oauth_authentication   = true
  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.storage.id]
  }
  blob_properties {
    versioning_enabled = true
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }
  sas_policy {
    expiration_period = "01.00:00:00"
  }
  network_rules {
    default_action             = "Deny"
    bypass                     = ["AzureServices"]
    ip_rules                   = var.allowed_ip_ranges
    virtual_network_subnet_ids = var.allowed_subnet_ids
  }
  lifecycle {
    ignore_changes = [customer_managed_key]
  }
}

resource "azurerm_storage_account_customer_managed_key" "cirrus" {
  storage_account_id        = azurerm_storage_account.cirrus.id
  key_vault_id              = azurerm_key_vault.cirrus.id
  key_name                  = azurerm_key_vault_key.cirrus.name
  user_assigned_identity_id = azurerm_user_assigned_identity.storage.id
  depends_on                = [azurerm_role_assignment.storage_key]
}

resource "azurerm_storage_container" "cirrus" {
  #checkov:skip=CKV2_AZURE_21:Blob read logging is a diagnostic setting to the user's Log Analytics workspace, which this module does not own.
  for_each              = toset(distinct([var.data_container, var.dvc_container]))
  name                  = each.value
  storage_account_id    = azurerm_storage_account.cirrus.id
  container_access_type = "private"
}

resource "azurerm_storage_management_policy" "cirrus" {
  storage_account_id = azurerm_storage_account.cirrus.id
  rule {
    name    = "expire-prediction-log"
    enabled = true
    filters {
      blob_types   = ["blockBlob"]
      prefix_match = ["${var.data_container}/${var.prediction_log_prefix}"]
    }
    actions {
      base_blob {
        delete_after_days_since_creation_greater_than = var.retention_days
      }
      version {
        delete_after_days_since_creation = 1
      }
    }
  }
  rule {
    name    = "drop-old-versions"
    enabled = true
    filters {
      blob_types = ["blockBlob"]
    }
    actions {
      version {
        delete_after_days_since_creation = 30
      }
    }
  }
}

# ---------- Registry ----------
resource "azurerm_user_assigned_identity" "registry" {
  name                = "${var.name}-registry"
  location            = azurerm_resource_group.cirrus.location
  resource_group_name = azurerm_resource_group.cirrus.name
}

resource "azurerm_role_assignment" "registry_key" {
  scope                = azurerm_key_vault.cirrus.id
  role_definition_name = "Key Vault Crypto Service Encryption User"
  principal_id         = azurerm_user_assigned_identity.registry.principal_id
}

# ACR has no registry-wide immutable tags: CI pushes each version once and locks it
# (`az acr repository update --write-enabled false`); Defender for Containers scans pushes.
resource "azurerm_container_registry" "cirrus" {
  #checkov:skip=CKV_AZURE_139:Public network access stays on so that CI runners outside the user's network can push; network_rule_set admits only allowed_ip_ranges.
  #checkov:skip=CKV_AZURE_165:Geo-replication doubles the registry's cost; one region serves the pipelines.
  #checkov:skip=CKV_AZURE_166:Quarantine needs a scanner that releases images; Defender for Containers scans instead.
  #checkov:skip=CKV_AZURE_164:Docker Content Trust (Notary v1) is deprecated in ACR; images are pulled by version tags CI writes once (see docs/deploy-to-your-cloud.md).
  #checkov:skip=CKV_AZURE_233:Zone redundancy is not offered in every region; a region that has it turns it on with zone_redundancy_enabled.
  name                          = var.registry_name
  resource_group_name           = azurerm_resource_group.cirrus.name
  location                      = azurerm_resource_group.cirrus.location
  sku                           = "Premium"
  admin_enabled                 = false
  anonymous_pull_enabled        = false
  data_endpoint_enabled         = true
  public_network_access_enabled = true
  export_policy_enabled         = true
  retention_policy_in_days      = 30
  network_rule_set {
    default_action = "Deny"
    dynamic "ip_rule" {
      for_each = var.allowed_ip_ranges
      content {
        action   = "Allow"
        ip_range = ip_rule.value
      }
    }
  }
  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.registry.id]
  }
  encryption {
    key_vault_key_id   = azurerm_key_vault_key.cirrus.id
    identity_client_id = azurerm_user_assigned_identity.registry.client_id
  }
  depends_on = [azurerm_role_assignment.registry_key]
}

# ---------- Azure ML: the workspace and the clusters deploy.yml names ----------
resource "azurerm_log_analytics_workspace" "cirrus" {
  name                = var.name
  location            = azurerm_resource_group.cirrus.location
  resource_group_name = azurerm_resource_group.cirrus.name
  sku                 = "PerGB2018"
  retention_in_days   = 30
}

resource "azurerm_application_insights" "cirrus" {
  name                = var.name
  location            = azurerm_resource_group.cirrus.location
  resource_group_name = azurerm_resource_group.cirrus.name
  workspace_id        = azurerm_log_analytics_workspace.cirrus.id
  application_type    = "other"
}

resource "azurerm_user_assigned_identity" "workspace" {
  name                = "${var.name}-aml"
  location            = azurerm_resource_group.cirrus.location
  resource_group_name = azurerm_resource_group.cirrus.name
}

resource "azurerm_machine_learning_workspace" "cirrus" {
  #checkov:skip=CKV2_AZURE_49:Same as CKV_AZURE_144: the workspace API stays reachable for CI; its data sits behind the storage and Key Vault firewalls.
  #checkov:skip=CKV2_AZURE_50:The workspace's storage account denies every network not in allowed_subnet_ids or allowed_ip_ranges (network_rules default_action Deny).
  #checkov:skip=CKV_AZURE_144:Public access stays on so that CI can submit jobs and schedules; storage, Key Vault and registry keep their own firewalls.
  name                           = var.name
  location                       = azurerm_resource_group.cirrus.location
  resource_group_name            = azurerm_resource_group.cirrus.name
  application_insights_id        = azurerm_application_insights.cirrus.id
  key_vault_id                   = azurerm_key_vault.cirrus.id
  storage_account_id             = azurerm_storage_account.cirrus.id
  container_registry_id          = azurerm_container_registry.cirrus.id
  high_business_impact           = true
  public_network_access_enabled  = true
  v1_legacy_mode_enabled         = false
  primary_user_assigned_identity = azurerm_user_assigned_identity.workspace.id
  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.workspace.id]
  }
  encryption {
    key_vault_id              = azurerm_key_vault.cirrus.id
    key_id                    = azurerm_key_vault_key.cirrus.id
    user_assigned_identity_id = azurerm_user_assigned_identity.workspace.id
  }
}

# Each cluster idles at zero nodes; the steps run as the runner's managed identity.
resource "azurerm_machine_learning_compute_cluster" "cirrus" {
  #checkov:skip=CKV_AZURE_150:Nodes without public IPs need a subnet of the user's virtual network (subnet_resource_id); set both together.
  for_each                      = var.compute_clusters
  name                          = each.key
  location                      = azurerm_resource_group.cirrus.location
  machine_learning_workspace_id = azurerm_machine_learning_workspace.cirrus.id
  vm_priority                   = each.value.priority
  vm_size                       = each.value.vm_size
  local_auth_enabled            = false
  ssh_public_access_enabled     = false
  scale_settings {
    min_node_count                       = 0
    max_node_count                       = each.value.max_nodes
    scale_down_nodes_after_idle_duration = "PT5M"
  }
  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.runner.id]
  }
}
