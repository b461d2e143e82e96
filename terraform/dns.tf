# The optional custom domain (domain_name): an ACM certificate in us-east-1 (CloudFront's region) validated
# by DNS, and, when hosted_zone_id names the Route 53 zone, its validation records and an alias to the
# distribution. Without hosted_zone_id, create the validation record printed in the ACM console yourself.

locals {
  manage_dns = local.custom_domain && var.hosted_zone_id != ""
}

resource "aws_acm_certificate" "edge" {
  count    = local.custom_domain ? 1 : 0
  provider = aws.us_east_1

  domain_name       = var.domain_name
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = local.manage_dns ? {
    for option in aws_acm_certificate.edge[0].domain_validation_options : option.domain_name => option
  } : {}

  zone_id         = var.hosted_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "edge" {
  count    = local.custom_domain ? 1 : 0
  provider = aws.us_east_1

  certificate_arn         = aws_acm_certificate.edge[0].arn
  validation_record_fqdns = local.manage_dns ? [for record in aws_route53_record.certificate_validation : record.fqdn] : null
}

resource "aws_route53_record" "edge" {
  for_each = local.manage_dns ? toset(["A", "AAAA"]) : toset([])

  zone_id = var.hosted_zone_id
  name    = var.domain_name
  type    = each.value

  alias {
    name                   = aws_cloudfront_distribution.edge.domain_name
    zone_id                = aws_cloudfront_distribution.edge.hosted_zone_id
    evaluate_target_health = false
  }
}
