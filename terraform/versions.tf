terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
    # local_file hashes the public key's DER bytes for the fingerprint output
    # (Terraform's own sha256() only hashes strings).
    local = {
      source  = "hashicorp/local"
      version = ">= 2.2"
    }
  }
}
