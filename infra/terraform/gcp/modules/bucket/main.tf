# One Cloud Storage bucket with the defaults Cirrus expects: uniform access, public access
# prevented, versioned, encrypted with the customer-managed key, expiring prefixes. Cloud Storage
# serves only HTTPS, so no TLS-only policy is needed.

variable "name" {
  description = "Bucket name."
  type        = string
}

variable "project" {
  description = "Project id."
  type        = string
}

variable "location" {
  description = "Bucket location."
  type        = string
}

variable "kms_key_id" {
  description = "The customer-managed key every object is encrypted with."
  type        = string
}

variable "expiring_prefixes" {
  description = "Object prefix -> days after which objects under it are deleted."
  type        = map(number)
  default     = {}
}

resource "google_storage_bucket" "this" {
  #checkov:skip=CKV_GCP_62:Access is recorded by Cloud Audit Logs (data access logs on the project); usage logs to another bucket would need their own bucket.
  name                        = var.name
  project                     = var.project
  location                    = var.location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
  encryption {
    default_kms_key_name = var.kms_key_id
  }
  soft_delete_policy {
    retention_duration_seconds = 604800
  }
  # Overwritten versions go after 30 days.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }
  dynamic "lifecycle_rule" {
    for_each = var.expiring_prefixes
    content {
      condition {
        age            = lifecycle_rule.value
        matches_prefix = [lifecycle_rule.key]
      }
      action {
        type = "Delete"
      }
    }
  }
}

output "name" {
  description = "Bucket name."
  value       = google_storage_bucket.this.name
}
