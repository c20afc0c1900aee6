# Storage, key, registry and secrets of Cirrus on AWS. Identities are in iam.tf, the Kubernetes
# service accounts in kubernetes.tf, the values deploy.yml and .dvc/config need in outputs.tf.

data "aws_caller_identity" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  # One bucket per distinct name: the data root, the DVC remote and the SageMaker default bucket.
  buckets = toset(distinct([var.data_bucket, var.dvc_bucket, var.pipeline_bucket]))
  secrets = toset(concat(var.runner_secrets, [var.api_token_secret]))
}

# One customer-managed key for buckets, secrets and the registry. Its policy lets the account's
# IAM policies decide who uses it (iam.tf grants each identity only what it needs); the policy
# itself lists the key's administration actions instead of kms:*.
resource "aws_kms_key" "cirrus" {
  description             = "${var.name}: data, DVC remote, secrets and images"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersTheKey"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${local.account_id}:root" }
        Action = [
          "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
          "kms:EnableKeyRotation", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
          "kms:UpdateKeyDescription", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
          "kms:EnableKey", "kms:DisableKey", "kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant",
        ]
        Resource = "*"
      },
      {
        Sid       = "IamPoliciesGrantUse"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${local.account_id}:root" }
        Action = [
          "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
          "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
        ]
        Resource = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "cirrus" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.cirrus.key_id
}

module "bucket" {
  source      = "./modules/bucket"
  for_each    = local.buckets
  name        = each.value
  kms_key_arn = aws_kms_key.cirrus.arn
  # the prediction log expires in the data bucket only (a for expression: no conditional types)
  expiring_prefixes = { for prefix, days in { (var.prediction_log_prefix) = var.retention_days } : prefix => days if each.value == var.data_bucket }
}

# The image deploy.yml names: tags never move, every push is scanned.
resource "aws_ecr_repository" "image" {
  name                 = var.registry_repository
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.cirrus.arn
  }
}

resource "aws_ecr_lifecycle_policy" "image" {
  repository = aws_ecr_repository.image.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the 30 newest images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 30 }
      action       = { type = "expire" }
    }]
  })
}

# Secret containers only: values are put with `aws secretsmanager put-secret-value`, so they
# never enter the Terraform state.
resource "aws_secretsmanager_secret" "cirrus" {
  #checkov:skip=CKV2_AWS_57:The PII salt cannot rotate without re-hashing every stored id; the API token is rotated by putting a new value (see docs/deploy-to-your-cloud.md).
  for_each                = local.secrets
  name                    = each.value
  kms_key_id              = aws_kms_key.cirrus.arn
  recovery_window_in_days = 30
}

# Only the identities that read a secret may: everyone else is denied, whatever IAM says.
resource "aws_secretsmanager_secret_policy" "cirrus" {
  for_each   = aws_secretsmanager_secret.cirrus
  secret_arn = each.value.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OnlyItsReaders"
      Effect    = "Deny"
      Principal = "*"
      Action    = "secretsmanager:GetSecretValue"
      Resource  = each.value.arn
      Condition = {
        ArnNotEquals = {
          "aws:PrincipalArn" = [for role in local.secret_readers[each.key] : "arn:aws:iam::${local.account_id}:role/${role}"]
        }
      }
    }]
  })
}
