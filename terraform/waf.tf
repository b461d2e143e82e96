# Abuse control at the edge: a WAFv2 web ACL (scope CLOUDFRONT, so in us-east-1) on the distribution. A
# rate-based rule blocks a client IP that sends more than waf.rate_limit requests to /classify and /feedback
# together in five minutes; AWS's managed common rule set is optional (waf.common_rules). Direct calls to the
# API's own URL skip WAF: the Lambda refuses them without CloudFront's origin-verify header (edge.tf, docs/edge.md).

resource "aws_wafv2_web_acl" "edge" {
  #checkov:skip=CKV_AWS_192: the Log4j managed rules protect Java origins; ours are S3 and a Python Lambda
  #checkov:skip=CKV2_AWS_31: no WAF log destination for a demo; CloudWatch metrics and sampled requests are on
  provider = aws.us_east_1

  name        = "${var.name}-edge"
  description = "Per-client rate limit on POST /classify and /feedback${var.waf.common_rules ? " and AWS's common rule set" : ""}."
  scope       = "CLOUDFRONT"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-per-client-ip"
    priority = 1

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit                 = var.waf.rate_limit
        aggregate_key_type    = "IP"
        evaluation_window_sec = 300

        scope_down_statement {
          or_statement {
            dynamic "statement" {
              for_each = local.api_paths # edge.tf

              content {
                byte_match_statement {
                  search_string         = statement.value
                  positional_constraint = "EXACTLY"

                  field_to_match {
                    uri_path {}
                  }

                  text_transformation {
                    priority = 0
                    type     = "NONE"
                  }
                }
              }
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-per-client-ip"
      sampled_requests_enabled   = true
    }
  }

  dynamic "rule" {
    for_each = var.waf.common_rules ? [1] : []

    content {
      name     = "aws-common-rule-set"
      priority = 2

      override_action {
        none {}
      }

      statement {
        managed_rule_group_statement {
          vendor_name = "AWS"
          name        = "AWSManagedRulesCommonRuleSet"

          # Its 8 KB body limit would block long texts the Lambda accepts (max_text_chars): count only.
          rule_action_override {
            name = "SizeRestrictions_BODY"

            action_to_use {
              count {}
            }
          }
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "${var.name}-aws-common-rule-set"
        sampled_requests_enabled   = true
      }
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-edge"
    sampled_requests_enabled   = true
  }
}
