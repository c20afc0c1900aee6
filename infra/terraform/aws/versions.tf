terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.36"
    }
  }
}

provider "aws" {
  region = var.region
}

# The EKS cluster that runs the Argo workflow and the API; IRSA binds its service accounts.
provider "kubernetes" {
  config_path    = var.kubeconfig_path
  config_context = var.kube_context
}
