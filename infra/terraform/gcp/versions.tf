terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.36"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

# The GKE cluster (Workload Identity on) that runs the Argo workflow and the API.
provider "kubernetes" {
  config_path    = var.kubeconfig_path
  config_context = var.kube_context
}
