# Storage, key, registry and secrets of Cirrus on Google Cloud. Identities are in iam.tf, the
# Kubernetes service accounts in kubernetes.tf, what deploy.yml and .dvc/config need in outputs.tf.

data "google_project" "this" {
  project_id = var.project
}

data "google_storage_project_service_account" "gcs" {
  project = var.project
}

locals {
  number  = data.google_project.this.number
  buckets = toset(distinct([var.data_bucket, var.dvc_bucket, var.pipeline_bucket]))
  secrets = toset(concat(var.runner_secrets, [var.api_token_secret]))
  # Google's service agents encrypt on behalf of their service with the customer-managed key.
  key_users = toset([
    "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}",
    "serviceAccount:service-${local.number}@gcp-sa-artifactregistry.iam.gserviceaccount.com",
    "serviceAccount:service-${local.number}@gcp-sa-secretmanager.iam.gserviceaccount.com",
  ])
}

resource "google_project_service" "apis" {
  for_each = toset([
    "cloudkms.googleapis.com", "storage.googleapis.com", "artifactregistry.googleapis.com",
    "containerscanning.googleapis.com", "secretmanager.googleapis.com", "aiplatform.googleapis.com",
    "iamcredentials.googleapis.com", "sts.googleapis.com",
  ])
  project            = var.project
  service            = each.value
  disable_on_destroy = false
}

resource "google_kms_key_ring" "cirrus" {
  name       = var.name
  location   = var.region
  project    = var.project
  depends_on = [google_project_service.apis]
}

resource "google_kms_crypto_key" "cirrus" {
  name            = "${var.name}-data"
  key_ring        = google_kms_key_ring.cirrus.id
  rotation_period = "7776000s" # 90 days
  lifecycle {
    prevent_destroy = true
  }
}

resource "google_kms_crypto_key_iam_member" "service_agents" {
  for_each      = local.key_users
  crypto_key_id = google_kms_crypto_key.cirrus.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
}

module "bucket" {
  source     = "./modules/bucket"
  for_each   = local.buckets
  name       = each.value
  project    = var.project
  location   = var.region
  kms_key_id = google_kms_crypto_key.cirrus.id
  # the prediction log expires in the data bucket only (a for expression: no conditional types)
  expiring_prefixes = { for prefix, days in { (var.prediction_log_prefix) = var.retention_days } : prefix => days if each.value == var.data_bucket }
  depends_on        = [google_kms_crypto_key_iam_member.service_agents]
}

# The image deploy.yml names: tags never move; Container Scanning scans every push.
resource "google_artifact_registry_repository" "image" {
  project       = var.project
  location      = var.region
  repository_id = var.registry_repository
  format        = "DOCKER"
  kms_key_name  = google_kms_crypto_key.cirrus.id
  docker_config {
    immutable_tags = true
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.service_agents]
}

# Secret containers only: values are added with `gcloud secrets versions add`, so they never
# enter the Terraform state.
resource "google_secret_manager_secret" "cirrus" {
  for_each  = local.secrets
  project   = var.project
  secret_id = each.value
  replication {
    user_managed {
      replicas {
        location = var.region
        customer_managed_encryption {
          kms_key_name = google_kms_crypto_key.cirrus.id
        }
      }
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.service_agents]
}
