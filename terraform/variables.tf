variable "name_prefix" {
  description = "Prefix for the names of the KMS aliases, the IAM role and the IAM policy."
  type        = string
  default     = "tfattest"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2 to 32 characters of lowercase letters, digits and hyphens."
  }
}

variable "key_spec" {
  description = "Key spec of the asymmetric signing key: RSA_3072 (RSASSA_PSS_SHA_256 or RSASSA_PKCS1_V1_5_SHA_256) or ECC_NIST_P256 (ECDSA_SHA_256)."
  type        = string
  default     = "ECC_NIST_P256"

  validation {
    condition     = contains(["RSA_3072", "ECC_NIST_P256"], var.key_spec)
    error_message = "key_spec must be RSA_3072 or ECC_NIST_P256."
  }
}

variable "key_deletion_window_days" {
  description = "Waiting period, in days, before KMS deletes a key scheduled for deletion (both keys)."
  type        = number
  default     = 30

  validation {
    condition     = var.key_deletion_window_days >= 7 && var.key_deletion_window_days <= 30 && floor(var.key_deletion_window_days) == var.key_deletion_window_days
    error_message = "key_deletion_window_days must be a whole number from 7 to 30."
  }
}

variable "bucket_name" {
  description = "Name of the S3 bucket that holds the records (Object Lock is enabled at creation and cannot be removed)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens."
  }
}

variable "object_prefix" {
  description = "Key prefix of the chain in the bucket, without leading or trailing '/'. The attestation service may write only under it."
  type        = string
  default     = "tfattest"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.object_prefix))
    error_message = "object_prefix must be non-empty path segments of letters, digits, '_', '.', '-' joined by '/', with no leading or trailing '/' and no wildcard."
  }
}

variable "retention_days" {
  description = "Object Lock COMPLIANCE retention, in days: the bucket's default retention and the retention-days of the store URI. No one, the account root included, can delete a record before it ends."
  type        = number

  validation {
    condition     = var.retention_days > 0 && var.retention_days <= 36500 && floor(var.retention_days) == var.retention_days
    error_message = "retention_days must be a whole number greater than 0 and at most 36500."
  }
}

variable "table_name" {
  description = "Name of the DynamoDB table that sequences the chain."
  type        = string
  default     = "tfattest-sequencer"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be 3 to 255 letters, digits, '_', '.' or '-'."
  }
}

variable "table_deletion_protection" {
  description = "Whether DynamoDB deletion protection is on for the sequencer table."
  type        = bool
  default     = true
}

variable "github_repository" {
  description = "The GitHub repository, as OWNER/REPO, whose Actions workflows may assume the CI role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be OWNER/REPO, without wildcards."
  }
}

variable "github_subjects" {
  description = "What follows 'repo:OWNER/REPO:' in the OIDC token's sub claim, e.g. 'ref:refs/heads/main' or 'environment:production'. '*' is allowed inside a ref name only (e.g. 'ref:refs/tags/v*')."
  type        = list(string)
  default     = ["ref:refs/heads/main"]

  validation {
    condition = length(var.github_subjects) > 0 && alltrue([
      for s in var.github_subjects :
      can(regex("^(ref:refs/(heads|tags)/[A-Za-z0-9_./-][A-Za-z0-9_./*-]*|environment:[A-Za-z0-9_. -]+)$", s))
    ])
    error_message = "Each github_subjects entry must be 'ref:refs/heads/NAME', 'ref:refs/tags/NAME' or 'environment:NAME' ('*' only within NAME, not first)."
  }
}

variable "create_oidc_provider" {
  description = "Create the IAM OIDC provider for token.actions.githubusercontent.com. Set false and give existing_oidc_provider_arn when the account already has one."
  type        = bool
  default     = true
}

variable "existing_oidc_provider_arn" {
  description = "ARN of an existing IAM OIDC provider for token.actions.githubusercontent.com, used when create_oidc_provider is false."
  type        = string
  default     = null

  validation {
    condition     = var.existing_oidc_provider_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.existing_oidc_provider_arn))
    error_message = "existing_oidc_provider_arn must be the ARN of the token.actions.githubusercontent.com OIDC provider."
  }
}

variable "auditor_principal_arns" {
  description = "IAM principals (role or user ARNs) of auditors: they may read the signing key's public key (kms:GetPublicKey, kms:DescribeKey) and nothing else on it, read and list the records under the prefix (s3:GetObject, s3:ListBucket) and decrypt them through S3 (kms:Decrypt on the data key), which is what `tfattest export --manifest-key` needs; nothing that writes or signs."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.auditor_principal_arns : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:", a))])
    error_message = "auditor_principal_arns must be IAM ARNs."
  }
}

variable "role_max_session_seconds" {
  description = "Maximum session duration of the CI role, in seconds."
  type        = number
  default     = 3600

  validation {
    condition     = var.role_max_session_seconds >= 900 && var.role_max_session_seconds <= 43200
    error_message = "role_max_session_seconds must be from 900 to 43200."
  }
}

variable "public_key_file" {
  description = "Where Terraform writes the signing key's public key (DER SPKI) so that the fingerprint output can be computed from its bytes. Relative paths are relative to the working directory."
  type        = string
  default     = "tfattest-signing-key.spki.der"
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
}

variable "service_package" {
  description = "Path of the service's deployment zip, as scripts/package-lambda.sh builds it (bootstrap and the libraries it needs)."
  type        = string

  validation {
    condition     = endswith(var.service_package, ".zip")
    error_message = "service_package must be the path of a .zip file."
  }
}

variable "service_architecture" {
  description = "Instruction set of the service's package: x86_64 or arm64, the machine scripts/package-lambda.sh ran on."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.service_architecture)
    error_message = "service_architecture must be x86_64 or arm64."
  }
}

variable "chain_id" {
  description = "The chain the service appends to (the name given to tfattest init --chain); used by the default service policy."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", var.chain_id))
    error_message = "chain_id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."
  }
}

variable "service_events" {
  description = "The events the CI role's sessions may record through the service (default policy)."
  type        = list(string)
  default     = ["apply", "destroy", "rollback", "import"]
}

variable "service_policy" {
  description = "The service's policy as JSON (TFATTEST_POLICY; docs/SERVICE.md), replacing the default one that lets the CI role's sessions record service_events on chain_id."
  type        = string
  default     = null

  validation {
    condition     = var.service_policy == null || can(jsondecode(var.service_policy))
    error_message = "service_policy must be JSON."
  }
}

variable "service_log_retention_days" {
  description = "Days the service's CloudWatch log group (one access-log line per request) keeps its events."
  type        = number
  default     = 365
}
