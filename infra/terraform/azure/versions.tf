terraform {
  required_version = ">= 1.6"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.20" # storage_account_id on containers
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.36"
    }
  }
}

provider "azurerm" {
  features {
    key_vault {
      purge_soft_delete_on_destroy = false
    }
  }
  # Shared keys are off on the storage account: the provider uses Entra ID for data-plane calls.
  storage_use_azuread = true
}

# The AKS cluster (OIDC issuer and workload identity on) that runs the Argo workflow and the API.
provider "kubernetes" {
  config_path    = var.kubeconfig_path
  config_context = var.kube_context
}
