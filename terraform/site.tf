# The static site: a private S3 bucket (all four public-access blocks on, ACLs disabled, no website) whose
# policy lets only this stack's CloudFront distribution (edge.tf) read the uploaded site objects.

locals {
  # Every file of site/ except templates; config.js is rendered below, never taken from the folder, and
  # the model card is the deployed version's (var.model_card).
  model_card_key = "model-card.html"
  site_files = toset([
    for file in fileset(var.site_dir, "**") : file
    if !endswith(file, ".tftpl") && !contains(["config.js", local.model_card_key], file)
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
  # The page calls /classify on its own origin (the distribution), so its API URL is empty: relative.
  config_js = templatefile("${var.site_dir}/config.js.tftpl", {
    api_url        = ""
    feedback       = var.lambda_settings.feedback == 1 ? "true" : "false"
    max_text_chars = var.lambda_settings.max_text_chars
    model_sha256   = var.model_sha256
    page           = jsonencode(jsondecode(var.site_page)) # one line of JSON: a JavaScript expression
  })
}

# --- Bucket ------------------------------------------------------------------------------------

resource "aws_s3_bucket" "site" {
  #checkov:skip=CKV_AWS_18: no log bucket for a static demo site; the API's access logs record the traffic
  #checkov:skip=CKV_AWS_21: git is the history of the site; old versions would only block destroy
  #checkov:skip=CKV_AWS_144: the site is rebuilt from git by `invoke infra`; replication adds nothing
  #checkov:skip=CKV_AWS_145: SSE-S3 suffices for public site files; SSE-KMS would need a key policy for CloudFront
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
  bucket = aws_s3_bucket.site.id

  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# --- Read of the site objects by this distribution, and nothing else ---------------------------

data "aws_iam_policy_document" "site_read_by_cloudfront" {
  statement {
    sid       = "CloudFrontReadsSiteObjects"
    actions   = ["s3:GetObject"]
    resources = [for key in concat(tolist(local.site_files), ["config.js", local.model_card_key]) : "${aws_s3_bucket.site.arn}/${key}"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.edge.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "site" {
  bucket = aws_s3_bucket.site.id
  policy = data.aws_iam_policy_document.site_read_by_cloudfront.json

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

resource "aws_s3_object" "model_card" {
  count = var.model_card == "" ? 0 : 1

  bucket        = aws_s3_bucket.site.id
  key           = local.model_card_key
  content       = var.model_card
  etag          = md5(var.model_card)
  content_type  = local.content_types.html
  cache_control = "no-cache"
}
