# The public edge: one CloudFront distribution in front of everything the public reaches. The site comes from
# the private bucket (S3 REST origin, Origin Access Control); POST /classify goes to the HTTP API as a second
# origin, uncached, with an origin-verify header the Lambda checks (docs/edge.md). HTTPS only, security
# headers from terraform/security-headers.json (the local origin sends the same), compression, WAF in waf.tf.

locals {
  api_paths = ["/classify", "/feedback"] # what the edge sends to the HTTP API, and the WAF rate-limits (waf.tf)

  # AWS's managed policies, by their fixed IDs (moto has no policy API, so no data source lookups).
  caching_optimized_policy_id      = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  caching_disabled_policy_id       = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
  all_viewer_except_host_policy_id = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

  security_headers = jsondecode(file("${path.module}/security-headers.json"))
  site_origin_id   = "site-bucket"
  api_origin_id    = "http-api"
  api_domain       = trimprefix(local.api_url, "https://")
  custom_domain    = var.domain_name != ""
  site_origin      = "https://${local.custom_domain ? var.domain_name : aws_cloudfront_distribution.edge.domain_name}"

  # CloudFront adds this header to every request it sends to the API; the Lambda refuses requests without it.
  origin_verify_header = "x-origin-verify"
}

# A random value made once and kept in the state (no random provider in the mirror): replace it to rotate,
# `terraform apply -replace=terraform_data.origin_verify`.
resource "terraform_data" "origin_verify" {
  input = uuid()

  lifecycle {
    ignore_changes = [input]
  }
}

resource "aws_cloudfront_origin_access_control" "site" {
  name                              = "${var.name}-site"
  description                       = "CloudFront signs its requests to the private site bucket."
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "security" {
  #checkov:skip=CKV_AWS_259: HSTS is 2 years, subdomains, override; preload is off: joining browsers' preload list is the domain owner's call (impossible for cloudfront.net)
  name    = "${var.name}-security-headers"
  comment = "Security headers of the page and the API (terraform/security-headers.json)."

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = local.security_headers.strict_transport_security.max_age_seconds
      include_subdomains         = local.security_headers.strict_transport_security.include_subdomains
      preload                    = local.security_headers.strict_transport_security.preload
      override                   = true
    }

    content_security_policy {
      content_security_policy = local.security_headers.content_security_policy
      override                = true
    }

    content_type_options {
      override = local.security_headers.content_type_options_nosniff
    }

    frame_options {
      frame_option = local.security_headers.frame_options
      override     = true
    }

    referrer_policy {
      referrer_policy = local.security_headers.referrer_policy
      override        = true
    }
  }
}

resource "aws_cloudfront_distribution" "edge" {
  #checkov:skip=CKV_AWS_86: no access-log bucket for a demo; WAF's sampled requests and the API's access logs record traffic
  #checkov:skip=CKV_AWS_174: with the default *.cloudfront.net certificate AWS fixes the policy at TLSv1; a custom domain gets TLSv1.2_2021
  #checkov:skip=CKV_AWS_310: one bucket, one API: there is no second origin to fail over to
  #checkov:skip=CKV_AWS_374: the page is for everyone; per-client rate limiting (waf.tf) is the abuse control
  #checkov:skip=CKV2_AWS_42: the custom certificate is optional (domain_name); by default the cloudfront.net name
  #checkov:skip=CKV2_AWS_47: the Log4j managed rule set protects Java origins; ours are S3 and a Python Lambda
  enabled             = true
  comment             = "${var.name}: the site and POST /classify"
  default_root_object = "index.html"
  http_version        = "http2and3"
  is_ipv6_enabled     = true
  price_class         = var.cloudfront_price_class
  aliases             = local.custom_domain ? [var.domain_name] : []
  web_acl_id          = aws_wafv2_web_acl.edge.arn

  origin {
    origin_id                = local.site_origin_id
    domain_name              = aws_s3_bucket.site.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.site.id
  }

  origin {
    origin_id   = local.api_origin_id
    domain_name = local.api_domain

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }

    custom_header {
      name  = local.origin_verify_header
      value = terraform_data.origin_verify.output
    }
  }

  default_cache_behavior {
    target_origin_id           = local.site_origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_optimized_policy_id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id
  }

  # config.js carries the Lambda's text limit: never cached at the edge, so a changed limit shows at once.
  ordered_cache_behavior {
    path_pattern               = "/config.js"
    target_origin_id           = local.site_origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_disabled_policy_id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id
  }

  # The API's routes (api.tf, feedback.tf): no caching, every viewer header but Host (API Gateway routes
  # on its own host name).
  dynamic "ordered_cache_behavior" {
    for_each = local.api_paths

    content {
      path_pattern               = ordered_cache_behavior.value
      target_origin_id           = local.api_origin_id
      viewer_protocol_policy     = "redirect-to-https"
      allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
      cached_methods             = ["GET", "HEAD"]
      compress                   = true
      cache_policy_id            = local.caching_disabled_policy_id
      origin_request_policy_id   = local.all_viewer_except_host_policy_id
      response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = !local.custom_domain
    acm_certificate_arn            = local.custom_domain ? aws_acm_certificate_validation.edge[0].certificate_arn : null
    ssl_support_method             = local.custom_domain ? "sni-only" : null
    minimum_protocol_version       = local.custom_domain ? "TLSv1.2_2021" : "TLSv1"
  }
}
