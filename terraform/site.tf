# The static site: an S3 website whose only public grant is read access to the uploaded site objects.
# ACLs are disabled and public ACLs blocked; the bucket policy is the single, reviewable opening.

locals {
  # Every file of site/ except templates; config.js is rendered below, never taken from the folder.
  site_files = toset([
    for file in fileset(var.site_dir, "**") : file
    if !endswith(file, ".tftpl") && file != "config.js"
  ])

  content_types = {
    css  = "text/css; charset=utf-8"
    html = "text/html; charset=utf-8"
    ico  = "image/x-icon"
    js   = "text/javascript; charset=utf-8"
    json = "application/json"
    png  = "image/png"
    svg  = "image/svg+xml"
    txt  = "text/plain; charset=utf-8"
  }

  api_url = trimsuffix(aws_apigatewayv2_stage.default.invoke_url, "/")
  config_js = templatefile("${var.site_dir}/config.js.tftpl", {
    api_url        = local.api_url
    max_text_chars = var.lambda_settings.max_text_chars
  })
  site_origin = "http://${aws_s3_bucket_website_configuration.site.website_endpoint}"
}

# --- Bucket ------------------------------------------------------------------------------------

resource "aws_s3_bucket" "site" {
  #checkov:skip=CKV_AWS_18: no log bucket for a static demo site; the API's access logs record the traffic
  #checkov:skip=CKV_AWS_21: git is the history of the site; old versions would only block destroy
  #checkov:skip=CKV_AWS_144: the site is rebuilt from git by `invoke infra`; replication adds nothing
  #checkov:skip=CKV_AWS_145: the S3 website endpoint cannot serve SSE-KMS objects to anonymous readers
  #checkov:skip=CKV2_AWS_6: it has a public-access block; public policies stay allowed for the website (see below)
  #checkov:skip=CKV2_AWS_61: every object is managed by Terraform and unversioned; nothing to expire
  #checkov:skip=CKV2_AWS_62: nothing consumes events of the site bucket
  bucket_prefix = "${var.name}-site-"
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "site" {
  #checkov:skip=CKV_AWS_54: a website bucket needs its public-read policy; that policy covers the site objects only
  #checkov:skip=CKV_AWS_56: a website bucket needs its public-read policy; that policy covers the site objects only
  bucket = aws_s3_bucket.site.id

  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = false # the policy below grants public read of the site objects
  restrict_public_buckets = false # a website bucket must be reachable through that policy
}

resource "aws_s3_bucket_server_side_encryption_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_website_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  index_document {
    suffix = "index.html"
  }
}

# --- Public read of the site objects, and nothing else -----------------------------------------

data "aws_iam_policy_document" "site_public_read" {
  statement {
    sid       = "PublicReadOfSiteObjects"
    actions   = ["s3:GetObject"]
    resources = [for key in concat(tolist(local.site_files), ["config.js"]) : "${aws_s3_bucket.site.arn}/${key}"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}

resource "aws_s3_bucket_policy" "site" {
  bucket = aws_s3_bucket.site.id
  policy = data.aws_iam_policy_document.site_public_read.json

  # S3 rejects a public policy while the public-access block still blocks public policies.
  depends_on = [aws_s3_bucket_public_access_block.site]
}

# --- Objects -----------------------------------------------------------------------------------

resource "aws_s3_object" "site_file" {
  for_each = local.site_files

  bucket        = aws_s3_bucket.site.id
  key           = each.value
  source        = "${var.site_dir}/${each.value}"
  etag          = filemd5("${var.site_dir}/${each.value}")
  content_type  = lookup(local.content_types, lower(reverse(split(".", each.value))[0]), "application/octet-stream")
  cache_control = "max-age=300"
}

resource "aws_s3_object" "config_js" {
  bucket        = aws_s3_bucket.site.id
  key           = "config.js"
  content       = local.config_js
  etag          = md5(local.config_js)
  content_type  = local.content_types.js
  cache_control = "no-cache"
}
