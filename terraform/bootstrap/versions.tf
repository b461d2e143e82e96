# What an administrator applies once per account and stack, before the first `invoke train --target aws`
# (README.md, "Deploying to AWS"): the SageMaker execution role and the ML engineer's managed policy. Its own
# root module and state, like ci-role/: nobody who trains or deploys can change their own rights.

terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(var.tags, {
      ManagedBy = "terraform"
      Project   = "${var.name}-bootstrap"
    })
  }
}
