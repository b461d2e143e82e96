# Terraform and provider versions, and the one provider configuration.
#
# State is local (terraform.tfstate beside this file) unless you opt in to the S3 backend: copy
# backend.tf.example to backend.tf, fill it in and migrate once (see README.md). `invoke infra --target local`
# runs a throwaway copy of this folder against moto_server and never touches either state.

terraform {
  # 1.11: the S3 backend's use_lockfile (backend.tf.example) is GA from this version.
  required_version = ">= 1.11.0, < 2.0.0"

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
      Project   = var.name
    })
  }
}

# CloudFront's certificate (ACM) and its web ACL (WAFv2, scope CLOUDFRONT) must live in us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = merge(var.tags, {
      ManagedBy = "terraform"
      Project   = var.name
    })
  }
}
