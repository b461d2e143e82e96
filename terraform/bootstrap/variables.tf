# Inputs, alphabetical. The defaults are the tasks' (ml/config.py, ml/aws/config.py): change them together.

variable "aws_region" {
  type        = string
  description = "Region where the ML engineer trains and deploys (DBP_REGION); the roles are global, their grants name this region."
  default     = "us-east-1"
}

variable "bucket" {
  type        = string
  description = "S3 bucket for channels, job outputs and transform files (DBP_BUCKET); empty: the SDK's default sagemaker-<region>-<account>."
  default     = ""

  validation {
    condition     = var.bucket == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket))
    error_message = "bucket must be an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens), or empty."
  }
}

variable "name" {
  type        = string
  description = "The stack's name: the endpoint (DBP_ENDPOINT_NAME), its model package group, and terraform/ `name`; the roles and grants are named after it."
  default     = "dbpedia-classifier"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,29}[a-z0-9]$", var.name))
    error_message = "name must be 3-31 lower-case letters, digits and hyphens (the stack's site bucket prefix <name>-site- has at most 37 characters)."
  }
}

variable "s3_prefix" {
  type        = string
  description = "Key prefix in the bucket under which the project writes everything (DBP_S3_PREFIX): data/, output/, transform/, models/."
  default     = "dbpedia-classifier"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.s3_prefix)) && !strcontains(var.s3_prefix, "*")
    error_message = "s3_prefix must be a key prefix without leading or trailing slashes or wildcards."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags on the role and the policy."
  default     = {}
}
