# Identities, each allowed only what Cirrus does with it. No access keys: the steps and the API
# assume their roles through IRSA, SageMaker and EventBridge through their service principals,
# CI through GitHub's OIDC tokens.

locals {
  data_objects     = "arn:aws:s3:::${var.data_bucket}/${var.data_prefix}*"
  dvc_objects      = "arn:aws:s3:::${var.dvc_bucket}/${var.dvc_prefix}*"
  log_objects      = "arn:aws:s3:::${var.data_bucket}/${var.prediction_log_prefix}*"
  runner_role      = "${var.name}-runner"
  serving_role     = "${var.name}-serving"
  ci_role          = "${var.name}-ci"
  eks_issuer       = replace(var.eks_oidc_provider_arn, "/^arn:aws:iam::[0-9]+:oidc-provider\\//", "")
  github_issuer    = "token.actions.githubusercontent.com"
  shared_scheduler = var.scheduler_role_name == var.sagemaker_role_name
  pipeline_arn     = "arn:aws:sagemaker:${var.region}:${local.account_id}:pipeline/${var.name}"
  secret_readers = merge(
    { for s in var.runner_secrets : s => [local.runner_role, local.serving_role, var.sagemaker_role_name] },
    { (var.api_token_secret) = [local.serving_role] },
  )
}

# ---------- pipeline runner: every step on Kubernetes (Argo, Airflow's pod operator) ----------
data "aws_iam_policy_document" "runner_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.eks_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.eks_issuer}:sub"
      values   = ["system:serviceaccount:${var.kubernetes_namespace}:${var.runner_service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.eks_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "runner" {
  statement {
    sid       = "ListTheDataRoot"
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.data_bucket}"]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.data_prefix}*"]
    }
  }
  statement {
    sid       = "ReadWriteTheDataRoot"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.data_objects]
  }
  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.cirrus.arn]
  }
  statement {
    sid       = "ReadThePiiSalt"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for s in var.runner_secrets : aws_secretsmanager_secret.cirrus[s].arn]
  }
}

resource "aws_iam_role" "runner" {
  name               = local.runner_role
  assume_role_policy = data.aws_iam_policy_document.runner_trust.json
}

resource "aws_iam_role_policy" "runner" {
  name   = "cirrus-runner"
  role   = aws_iam_role.runner.id
  policy = data.aws_iam_policy_document.runner.json
}

# ---------- serving: reads the model, feature spec and metrics; appends to the prediction log ----------
data "aws_iam_policy_document" "serving_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.eks_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.eks_issuer}:sub"
      values   = ["system:serviceaccount:${var.kubernetes_namespace}:${var.serving_service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.eks_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "serving" {
  statement {
    sid       = "ReadTheServedArtifacts"
    actions   = ["s3:GetObject"]
    resources = [for key in var.serving_read_objects : "arn:aws:s3:::${var.data_bucket}/${key}"]
  }
  statement {
    sid       = "ListThePredictionLog"
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.data_bucket}"]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.prediction_log_prefix}*"]
    }
  }
  # Appends new part files; deletes only partitions past retention_days (PredictionLog.prune).
  statement {
    sid       = "AppendToThePredictionLog"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = [local.log_objects]
  }
  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.cirrus.arn]
  }
  statement {
    sid       = "ReadTheSaltAndToken"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for s in local.secrets : aws_secretsmanager_secret.cirrus[s].arn]
  }
}

resource "aws_iam_role" "serving" {
  name               = local.serving_role
  assume_role_policy = data.aws_iam_policy_document.serving_trust.json
}

resource "aws_iam_role_policy" "serving" {
  name   = "cirrus-serving"
  role   = aws_iam_role.serving.id
  policy = data.aws_iam_policy_document.serving.json
}

# ---------- SageMaker: the pipeline's and its processing jobs' execution role ----------
data "aws_iam_policy_document" "sagemaker_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = local.shared_scheduler ? ["sagemaker.amazonaws.com", "events.amazonaws.com"] : ["sagemaker.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "sagemaker" {
  statement {
    sid       = "ListTheDataRootAndPipelineFiles"
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.data_bucket}", "arn:aws:s3:::${var.pipeline_bucket}"]
  }
  statement {
    sid       = "ReadWriteTheDataRoot"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.data_objects]
  }
  statement {
    sid       = "ReadWritePipelineFiles"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["arn:aws:s3:::${var.pipeline_bucket}/${var.name}/*"]
  }
  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.cirrus.arn]
  }
  statement {
    sid       = "PullTheImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.image.arn]
  }
  # ecr:GetAuthorizationToken has no resource type in IAM: "*" is its only valid resource.
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "WriteJobLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:aws:logs:${var.region}:${local.account_id}:log-group:/aws/sagemaker/ProcessingJobs:*"]
  }
  statement {
    sid       = "RunTheSteps"
    actions   = ["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob", "sagemaker:AddTags"]
    resources = ["arn:aws:sagemaker:${var.region}:${local.account_id}:processing-job/pipelines-*"]
  }
  statement {
    sid       = "HandItselfToTheJobs"
    actions   = ["iam:PassRole"]
    resources = ["arn:aws:iam::${local.account_id}:role/${var.sagemaker_role_name}"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
  statement {
    sid       = "ReadThePiiSalt"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for s in var.runner_secrets : aws_secretsmanager_secret.cirrus[s].arn]
  }
  # deploy.yml gives no schedule_role_arn: EventBridge starts the pipeline as this role.
  dynamic "statement" {
    for_each = local.shared_scheduler ? [local.pipeline_arn] : []
    content {
      sid       = "StartTheScheduledPipeline"
      actions   = ["sagemaker:StartPipelineExecution"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "sagemaker" {
  name               = var.sagemaker_role_name
  assume_role_policy = data.aws_iam_policy_document.sagemaker_trust.json
}

resource "aws_iam_role_policy" "sagemaker" {
  name   = "cirrus-sagemaker"
  role   = aws_iam_role.sagemaker.id
  policy = data.aws_iam_policy_document.sagemaker.json
}

# ---------- scheduler: EventBridge starts the pipeline (when deploy.yml names its own role) ----------
data "aws_iam_policy_document" "scheduler_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "StartTheScheduledPipeline"
    actions   = ["sagemaker:StartPipelineExecution"]
    resources = [local.pipeline_arn]
  }
}

resource "aws_iam_role" "scheduler" {
  count              = local.shared_scheduler ? 0 : 1
  name               = var.scheduler_role_name
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust.json
}

resource "aws_iam_role_policy" "scheduler" {
  count  = local.shared_scheduler ? 0 : 1
  name   = "cirrus-scheduler"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler.json
}

# ---------- CI: GitHub Actions of one repository and branch, through OIDC ----------
data "aws_iam_policy_document" "ci_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.github_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github_issuer}:sub"
      values   = ["repo:${var.ci_repository}:ref:refs/heads/${var.ci_branch}"]
    }
  }
}

data "aws_iam_policy_document" "ci" {
  statement {
    sid = "PushTheImage"
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:DescribeImageScanFindings",
    ]
    resources = [aws_ecr_repository.image.arn]
  }
  # ecr:GetAuthorizationToken has no resource type in IAM: "*" is its only valid resource.
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "ListTheDvcRemote"
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.dvc_bucket}"]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.dvc_prefix}*"]
    }
  }
  statement {
    sid       = "ReadWriteTheDvcRemote"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.dvc_objects]
  }
  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.cirrus.arn]
  }
}

resource "aws_iam_role" "ci" {
  name               = local.ci_role
  assume_role_policy = data.aws_iam_policy_document.ci_trust.json
}

resource "aws_iam_role_policy" "ci" {
  name   = "cirrus-ci"
  role   = aws_iam_role.ci.id
  policy = data.aws_iam_policy_document.ci.json
}
