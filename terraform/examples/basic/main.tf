# The smallest use of the module: a new OIDC provider, a signing key, an
# Object Lock bucket and a sequencer table, for the main branch of one repository.

provider "aws" {
  region = "eu-central-1"
}

module "tfattest" {
  source = "../.."

  bucket_name       = "example-org-tfattest-records"
  github_repository = "example-org/infrastructure"
  retention_days    = 400 # COMPLIANCE: records cannot be deleted for 400 days
  chain_id          = "production"
  service_package   = "tfattest-lambda.zip" # scripts/package-lambda.sh
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

output "service_url" {
  value = module.tfattest.service_url
}

output "role_arn" {
  value = module.tfattest.role_arn
}

output "public_key_fingerprint" {
  value = module.tfattest.public_key_fingerprint
}
