# Exactly what deploy.yml, conf/cloud and .dvc/config need.

output "storage_root" {
  description = "conf/cloud/globals.yml storage_root (or CIRRUS_STORAGE_ROOT)."
  value       = "s3://${module.bucket[var.data_bucket].name}/${trimsuffix(var.data_prefix, "/")}"
}

output "dvc_remote_url" {
  description = ".dvc/config remote \"s3\" url."
  value       = "s3://${module.bucket[var.dvc_bucket].name}/${trimsuffix(var.dvc_prefix, "/")}"
}

output "dvc_remote_sse_kms_key_id" {
  description = ".dvc/config remote \"s3\": sse = aws:kms and sse_kms_key_id = this key."
  value       = aws_kms_key.cirrus.arn
}

output "image" {
  description = "deploy.image without its tag."
  value       = aws_ecr_repository.image.repository_url
}

output "service_account" {
  description = "deploy.service_account (the Kubernetes service account bound to the runner role)."
  value       = kubernetes_service_account_v1.runner.metadata[0].name
}

output "serving_service_account" {
  description = "deploy.targets.kubernetes.serving.service_account."
  value       = var.serving_service_account
}

output "sagemaker_role_arn" {
  description = "deploy.targets.sagemaker.role_arn."
  value       = aws_iam_role.sagemaker.arn
}

output "sagemaker_schedule_role_arn" {
  description = "deploy.targets.sagemaker.schedule_role_arn."
  value       = local.shared_scheduler ? aws_iam_role.sagemaker.arn : aws_iam_role.scheduler[0].arn
}

output "sagemaker_default_bucket" {
  description = "deploy.targets.sagemaker.default_bucket."
  value       = module.bucket[var.pipeline_bucket].name
}

output "secret_names" {
  description = "deploy.secret_env values and the API token secret, in Secrets Manager."
  value       = [for s in aws_secretsmanager_secret.cirrus : s.name]
}

output "ci_role_arn" {
  description = "role-to-assume of the CI workflow (repository variable AWS_CI_ROLE_ARN)."
  value       = aws_iam_role.ci.arn
}
