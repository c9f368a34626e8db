# tfattest on AWS: a KMS signing key, an S3 Object Lock (COMPLIANCE) bucket for
# the records, a DynamoDB table that sequences the chain, the attestation
# service (`tfattest lambda`, a Lambda function behind a Function URL with
# AWS_IAM auth) which alone signs and writes, and a least-privilege IAM role for
# GitHub Actions (OIDC) that may only call the service.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  region       = data.aws_region.current.name
  account_root = "arn:${local.partition}:iam::${local.account_id}:root"
  role_name    = "${var.name_prefix}-github-actions"
  oidc_provider_arn = (var.create_oidc_provider
    ? aws_iam_openid_connect_provider.github[0].arn
  : var.existing_oidc_provider_arn)
  github_subs = [for s in var.github_subjects : "repo:${var.github_repository}:${s}"]
  records_arn = "${aws_s3_bucket.records.arn}/${var.object_prefix}/*"
  # The service's name, and its log group's, known before the function exists.
  function_name = "${var.name_prefix}-service"
  # The same URIs as the store_uri and sequencer_uri outputs.
  service_store_uri     = "s3://${aws_s3_bucket.records.id}/${var.object_prefix}?region=${local.region}&retention-days=${var.retention_days}"
  service_sequencer_uri = "dynamodb://${aws_dynamodb_table.sequencer.name}?region=${local.region}"
  # Who may record: the CI role's sessions (IAM principal arn:...:assumed-role/ROLE/SESSION),
  # for the chain and events given; docs/LAMBDA.md.
  service_policy = var.service_policy != null ? var.service_policy : jsonencode({
    allow = [{
      issuer  = "aws-iam"
      subject = "arn:${local.partition}:sts::${local.account_id}:assumed-role/${local.role_name}/*"
      chains  = [var.chain_id]
      events  = var.service_events
    }]
  })
  tags = merge({ "tfattest:component" = "attestation" }, var.tags)
}

# ---- the signing key ---------------------------------------------------------------

# Administration for the account, but none of the key's cryptographic use and no
# kms:CreateGrant (a grant could hand out kms:Sign).
data "aws_iam_policy_document" "signing_key" {
  statement {
    sid       = "AccountAdministrationWithoutSign"
    effect    = "Allow"
    resources = ["*"]
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:DisableKey",
      "kms:EnableKey",
      "kms:GetKeyPolicy",
      "kms:GetPublicKey",
      "kms:ListGrants",
      "kms:ListKeyPolicies",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:RetireGrant",
      "kms:RevokeGrant",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }

  statement {
    sid       = "ServiceSigns"
    effect    = "Allow"
    resources = ["*"]
    actions   = ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.service.arn]
    }
  }

  dynamic "statement" {
    for_each = length(var.auditor_principal_arns) > 0 ? [1] : []
    content {
      sid       = "AuditorsReadThePublicKey"
      effect    = "Allow"
      resources = ["*"]
      actions   = ["kms:GetPublicKey", "kms:DescribeKey"]
      principals {
        type        = "AWS"
        identifiers = var.auditor_principal_arns
      }
    }
  }

  # Nobody but the service signs, whatever an IAM policy or a grant says: not
  # the CI role, which only calls the service.
  statement {
    sid       = "DenySignToAllButTheService"
    effect    = "Deny"
    resources = ["*"]
    actions   = ["kms:Sign"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.service.arn]
    }
  }
}

resource "aws_kms_key" "signing" {
  description              = "tfattest: signs deployment records (${var.key_spec})"
  key_usage                = "SIGN_VERIFY"
  customer_master_key_spec = var.key_spec
  deletion_window_in_days  = var.key_deletion_window_days
  enable_key_rotation      = false # KMS does not rotate asymmetric keys; tfattest rotation records do
  policy                   = data.aws_iam_policy_document.signing_key.json
  tags                     = local.tags
}

resource "aws_kms_alias" "signing" {
  name          = "alias/${var.name_prefix}-signing"
  target_key_id = aws_kms_key.signing.key_id
}

data "aws_kms_public_key" "signing" {
  key_id = aws_kms_key.signing.arn
}

# Terraform's sha256() hashes a string's UTF-8 bytes, not the DER the base64
# decodes to. local_file writes the decoded bytes and reports their SHA-256.
resource "local_file" "public_key_der" {
  filename        = var.public_key_file
  content_base64  = data.aws_kms_public_key.signing.public_key
  file_permission = "0644"
}

# ---- the data key (S3 default encryption and the DynamoDB table) -----------------------

data "aws_iam_policy_document" "data_key" {
  statement {
    sid       = "AccountAdministersAndDelegatesToIAM"
    effect    = "Allow"
    resources = ["*"]
    actions   = ["kms:*"]
    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }

  # Auditors read the records (SSE-KMS) through S3, and decrypt nothing else.
  dynamic "statement" {
    for_each = length(var.auditor_principal_arns) > 0 ? [1] : []
    content {
      sid       = "AuditorsDecryptTheRecordsThroughS3"
      effect    = "Allow"
      resources = ["*"]
      actions   = ["kms:Decrypt"]
      principals {
        type        = "AWS"
        identifiers = var.auditor_principal_arns
      }
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_kms_key" "data" {
  description             = "tfattest: encrypts the record bucket and the sequencer table"
  key_usage               = "ENCRYPT_DECRYPT"
  deletion_window_in_days = var.key_deletion_window_days
  enable_key_rotation     = true
  policy                  = data.aws_iam_policy_document.data_key.json
  tags                    = local.tags
}

resource "aws_kms_alias" "data" {
  name          = "alias/${var.name_prefix}-data"
  target_key_id = aws_kms_key.data.key_id
}

# ---- the record bucket: S3 Object Lock in COMPLIANCE mode ------------------------------

resource "aws_s3_bucket" "records" {
  bucket              = var.bucket_name
  object_lock_enabled = true
  tags                = local.tags
}

resource "aws_s3_bucket_versioning" "records" {
  bucket = aws_s3_bucket.records.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "records" {
  bucket = aws_s3_bucket.records.id
  rule {
    default_retention {
      mode = "COMPLIANCE"
      days = var.retention_days
    }
  }
  depends_on = [aws_s3_bucket_versioning.records]
}

resource "aws_s3_bucket_public_access_block" "records" {
  bucket                  = aws_s3_bucket.records.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "records" {
  bucket = aws_s3_bucket.records.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "records" {
  bucket = aws_s3_bucket.records.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.data.arn
    }
    bucket_key_enabled = true
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.records.arn, "${aws_s3_bucket.records.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyTLSOlderThan1_2"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.records.arn, "${aws_s3_bucket.records.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }

  # Objects are SSE-KMS under the data key: uploads that ask for anything else
  # (SSE-S3, another KMS key) are refused; uploads that name no encryption get
  # the bucket default, which is SSE-KMS under the data key.
  statement {
    sid       = "DenyUploadsNotEncryptedWithKMS"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.records.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }

  statement {
    sid       = "DenyUploadsWithAnotherKMSKey"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.records.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [aws_kms_key.data.arn]
    }
  }

  # A GOVERNANCE lock could be bypassed; only COMPLIANCE is accepted.
  statement {
    sid       = "DenyObjectLockModesOtherThanCompliance"
    effect    = "Deny"
    actions   = ["s3:PutObject", "s3:PutObjectRetention"]
    resources = ["${aws_s3_bucket.records.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:object-lock-mode"
      values   = ["COMPLIANCE"]
    }
  }

  # Auditors read and list the records, and nothing else: `tfattest export
  # --manifest-key` needs no more (docs/WORKFLOW.md).
  dynamic "statement" {
    for_each = length(var.auditor_principal_arns) > 0 ? [1] : []
    content {
      sid       = "AuditorsReadTheRecords"
      effect    = "Allow"
      actions   = ["s3:GetObject"]
      resources = [local.records_arn]
      principals {
        type        = "AWS"
        identifiers = var.auditor_principal_arns
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.auditor_principal_arns) > 0 ? [1] : []
    content {
      sid       = "AuditorsListThePrefix"
      effect    = "Allow"
      actions   = ["s3:ListBucket"]
      resources = [aws_s3_bucket.records.arn]
      principals {
        type        = "AWS"
        identifiers = var.auditor_principal_arns
      }
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${var.object_prefix}/*"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "records" {
  bucket     = aws_s3_bucket.records.id
  policy     = data.aws_iam_policy_document.bucket.json
  depends_on = [aws_s3_bucket_public_access_block.records]
}

# ---- the sequencer table ------------------------------------------------------------

# One item per chain, keyed by `chain` (string); see docs/AWS.md.
resource "aws_dynamodb_table" "sequencer" {
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "chain"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "chain"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }

  tags = local.tags
}

# ---- GitHub Actions: OIDC provider and the CI role ----------------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  count          = var.create_oidc_provider ? 1 : 0
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  # IAM trusts GitHub's OIDC endpoint through its own CA store; the provider
  # API still takes thumbprints, so GitHub's published ones are given.
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]
  tags = local.tags
}

data "aws_iam_policy_document" "ci_trust" {
  statement {
    sid     = "GitHubActionsOIDC"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values   = local.github_subs
    }
  }
}

resource "aws_iam_role" "ci" {
  name                 = local.role_name
  description          = "tfattest: GitHub Actions of ${var.github_repository} record signed deployment evidence"
  assume_role_policy   = data.aws_iam_policy_document.ci_trust.json
  max_session_duration = var.role_max_session_seconds
  tags                 = local.tags

  lifecycle {
    precondition {
      condition     = var.create_oidc_provider || var.existing_oidc_provider_arn != null
      error_message = "Set existing_oidc_provider_arn when create_oidc_provider is false."
    }
  }
}

# Least privilege: the CI role calls the service and reads the public key. It
# cannot sign, write a record or move the sequencer: the service does that, for
# the identity AWS verified.
data "aws_iam_policy_document" "ci" {
  statement {
    sid       = "CallTheServiceThroughItsURL"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunctionUrl"]
    resources = [aws_lambda_function.service.arn]
    condition {
      test     = "StringEquals"
      variable = "lambda:FunctionUrlAuthType"
      values   = ["AWS_IAM"]
    }
  }

  # Function URLs made since October 2025 also need lambda:InvokeFunction; only
  # through the URL, where Lambda fills in the caller's identity. A direct
  # Invoke would let the caller write the identity into the event itself.
  statement {
    sid       = "InvokeOnlyThroughTheURL"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.service.arn]
    condition {
      test     = "Bool"
      variable = "lambda:InvokedViaFunctionUrl"
      values   = ["true"]
    }
  }

  statement {
    sid       = "ReadThePublicKey"
    effect    = "Allow"
    actions   = ["kms:GetPublicKey"]
    resources = [aws_kms_key.signing.arn]
  }
}

resource "aws_iam_role_policy" "ci" {
  name   = "${var.name_prefix}-least-privilege"
  role   = aws_iam_role.ci.id
  policy = data.aws_iam_policy_document.ci.json
}

# ---- the attestation service: `tfattest lambda` --------------------------------------

data "aws_iam_policy_document" "service_trust" {
  statement {
    sid     = "LambdaRunsTheService"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "service" {
  name               = "${var.name_prefix}-service"
  description        = "tfattest: the attestation service signs and appends records for verified callers"
  assume_role_policy = data.aws_iam_policy_document.service_trust.json
  tags               = local.tags
}

# Least privilege: one key, one bucket prefix, one table, its own log group.
data "aws_iam_policy_document" "service" {
  statement {
    sid       = "SignWithTheSigningKey"
    effect    = "Allow"
    actions   = ["kms:Sign", "kms:GetPublicKey"]
    resources = [aws_kms_key.signing.arn]
  }

  statement {
    sid       = "WriteAndReadRecordsUnderThePrefix"
    effect    = "Allow"
    actions   = ["s3:PutObject", "s3:PutObjectRetention", "s3:GetObject"]
    resources = [local.records_arn]
  }

  statement {
    sid       = "ListThePrefix"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.records.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.object_prefix}/*"]
    }
  }

  statement {
    sid       = "UseTheDataKeyThroughS3"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.data.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "SequenceTheChain"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]
    resources = [aws_dynamodb_table.sequencer.arn]
  }

  statement {
    sid       = "WriteItsLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.service.arn}:*"]
  }
}

resource "aws_iam_role_policy" "service" {
  name   = "${var.name_prefix}-service-least-privilege"
  role   = aws_iam_role.service.id
  policy = data.aws_iam_policy_document.service.json
}

resource "aws_cloudwatch_log_group" "service" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.service_log_retention_days
  tags              = local.tags
}

resource "aws_lambda_function" "service" {
  function_name    = local.function_name
  description      = "tfattest: signs and appends deployment records for callers AWS verified"
  role             = aws_iam_role.service.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.service_architecture]
  filename         = var.service_package
  source_code_hash = filebase64sha256(var.service_package)
  memory_size      = 256
  timeout          = 30
  tags             = local.tags

  environment {
    variables = {
      TFATTEST_KEY       = "awskms:///${aws_kms_key.signing.arn}"
      TFATTEST_STORE     = local.service_store_uri
      TFATTEST_SEQUENCER = local.service_sequencer_uri
      TFATTEST_POLICY    = local.service_policy
    }
  }

  depends_on = [aws_cloudwatch_log_group.service, aws_iam_role_policy.service]
}

# AWS_IAM: every request is SigV4-signed, and Lambda passes the verified
# principal to the function in requestContext.authorizer.iam.
resource "aws_lambda_function_url" "service" {
  function_name      = aws_lambda_function.service.function_name
  authorization_type = "AWS_IAM"
}
