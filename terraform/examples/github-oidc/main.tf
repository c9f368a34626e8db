# An account that already has the GitHub Actions OIDC provider; RSA-3072 key;
# the role may be assumed from main and from release tags, and an auditor role
# may read the public key. workflow.yml shows the GitHub Actions side.

provider "aws" {
  region = "us-east-1"
}

data "aws_iam_openid_connect_provider" "github" {
  url = "https://token.actions.githubusercontent.com"
}

module "tfattest" {
  source = "../.."

  name_prefix                = "infra-attest"
  key_spec                   = "RSA_3072"
  bucket_name                = "example-org-infra-attest"
  object_prefix              = "chains/production"
  retention_days             = 3653
  table_name                 = "infra-attest-sequencer"
  github_repository          = "example-org/infrastructure"
  github_subjects            = ["ref:refs/heads/main", "ref:refs/tags/v*", "environment:production"]
  create_oidc_provider       = false
  existing_oidc_provider_arn = data.aws_iam_openid_connect_provider.github.arn
  auditor_principal_arns     = ["arn:aws:iam::111122223333:role/auditor"]
  chain_id                   = "production"
  service_package            = "tfattest-lambda.zip" # scripts/package-lambda.sh
}

output "role_arn" {
  value = module.tfattest.role_arn
}

output "key_uri" {
  value = module.tfattest.key_uri
}

output "store_uri" {
  value = module.tfattest.store_uri
}

output "sequencer_uri" {
  value = module.tfattest.sequencer_uri
}

output "public_key_fingerprint" {
  value = module.tfattest.public_key_fingerprint
}
