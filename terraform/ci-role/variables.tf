# Inputs, alphabetical.

variable "aws_region" {
  type        = string
  description = "Region of the stack (the roles are global; this is where the stack's resources live)."
  default     = "us-east-1"
}

variable "bucket" {
  type        = string
  description = "The bucket `invoke train --target aws` stores models in (DBP_BUCKET; terraform/bootstrap `bucket`); empty: the SDK's default sagemaker-<region>-<account>."
  default     = ""

  validation {
    condition     = var.bucket == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket))
    error_message = "bucket must be an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens), or empty."
  }
}

variable "create_oidc_provider" {
  type        = bool
  description = "Create the account's GitHub OIDC provider (token.actions.githubusercontent.com); false when the account has one already."
  default     = true
}

variable "github_repository" {
  type        = string
  description = "The repository whose workflows may assume the roles, as owner/name."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name, without wildcards."
  }
}

variable "name" {
  type        = string
  description = "The stack's name (terraform/variables.tf `name`): the roles may touch only resources named after it."
  default     = "dbpedia-classifier"
}

variable "s3_prefix" {
  type        = string
  description = "The key prefix `invoke train --target aws` writes under (DBP_S3_PREFIX; terraform/bootstrap `s3_prefix`): the roles read its models/."
  default     = "dbpedia-classifier"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.s3_prefix)) && !strcontains(var.s3_prefix, "*")
    error_message = "s3_prefix must be a key prefix without leading or trailing slashes or wildcards."
  }
}

variable "state_bucket" {
  type        = string
  description = "The S3 bucket of the stack's Terraform state (backend.tf)."
}

variable "state_key" {
  type        = string
  description = "The state's key in state_bucket (backend.tf `key`)."
  default     = "dbpedia-classifier/terraform.tfstate"
}

variable "tags" {
  type        = map(string)
  description = "Extra tags on the roles and the OIDC provider."
  default     = {}
}
