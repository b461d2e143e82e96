# Inputs, alphabetical.

variable "aws_region" {
  type        = string
  description = "Region of the stack (the roles are global; this is where the stack's resources live)."
  default     = "us-east-1"
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
