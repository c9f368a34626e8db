output "key_uri" {
  description = "The signing key as a tfattest key URI (--key / TFATTEST_KEY)."
  value       = "awskms:///${aws_kms_key.signing.arn}"
}

output "key_arn" {
  description = "ARN of the asymmetric signing key."
  value       = aws_kms_key.signing.arn
}

output "key_alias" {
  description = "Alias of the signing key."
  value       = aws_kms_alias.signing.name
}

output "signing_algorithms" {
  description = "Signing algorithms the key supports, as KMS names them."
  value       = data.aws_kms_public_key.signing.signing_algorithms
}

output "public_key_pem" {
  description = "The signing key's public key (PEM SubjectPublicKeyInfo)."
  value       = data.aws_kms_public_key.signing.public_key_pem
}

output "public_key_fingerprint" {
  description = "sha256: of the signing key's DER SubjectPublicKeyInfo, the form tfattest pins (verify --expect-key-fingerprint). Cross-check it with `tfattest pubkey --key <key_uri>`."
  value       = "sha256:${local_file.public_key_der.content_sha256}"
}

output "store_uri" {
  description = "The record store as a tfattest store URI (--store / TFATTEST_STORE)."
  value       = "s3://${aws_s3_bucket.records.id}/${var.object_prefix}?region=${local.region}&retention-days=${var.retention_days}"
}

output "sequencer_uri" {
  description = "The sequencer as a tfattest sequencer URI (--sequencer / TFATTEST_SEQUENCER)."
  value       = "dynamodb://${aws_dynamodb_table.sequencer.name}?region=${local.region}"
}

output "role_arn" {
  description = "ARN of the IAM role GitHub Actions assumes (aws-actions/configure-aws-credentials role-to-assume)."
  value       = aws_iam_role.ci.arn
}

output "oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider the role trusts."
  value       = local.oidc_provider_arn
}

output "bucket_name" {
  description = "Name of the Object Lock bucket."
  value       = aws_s3_bucket.records.id
}

output "table_name" {
  description = "Name of the DynamoDB sequencer table."
  value       = aws_dynamodb_table.sequencer.name
}

output "data_key_arn" {
  description = "ARN of the symmetric KMS key that encrypts the bucket and the table."
  value       = aws_kms_key.data.arn
}

output "service_url" {
  description = "The attestation service's Function URL (AWS_IAM auth): tfattest record/apply --service URL."
  value       = aws_lambda_function_url.service.function_url
}

output "service_function_arn" {
  description = "ARN of the attestation service's Lambda function."
  value       = aws_lambda_function.service.arn
}

output "service_role_arn" {
  description = "ARN of the service's execution role, the only principal that may sign with the key."
  value       = aws_iam_role.service.arn
}
