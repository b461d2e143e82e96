# The CI roles for .github/workflows/: applied once, by hand, by an administrator of the account
# (docs/plan-review.md). Its own root module and state: the stack's pipeline never changes its own rights.

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
      Project   = "${var.name}-ci"
    })
  }
}
