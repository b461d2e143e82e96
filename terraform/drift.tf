# Live metrics' drift alarms: the Lambda's Embedded Metric Format lines (lambda/metrics.py) counted over a
# day against the band `invoke train` measured on the validation split (ml/drift.py, docs/live-metrics.md).
# A day with fewer than min_day_answers answers is not judged.

locals {
  metrics_namespace = "DbpediaClassifier" # lambda/metrics.py NAMESPACE
  drift_period      = 86400
  drift_function    = { Function = aws_lambda_function.classifier.function_name }
  drift_judged      = "answers >= ${var.drift_band.min_day_answers}"
}

resource "aws_cloudwatch_metric_alarm" "unknown_text_rate" {
  alarm_name          = "${var.name}-unknown-text-rate"
  alarm_description   = "Over a day, the share of answers without a label (unknown text) left the band ${var.drift_band.unknown_text.low}-${var.drift_band.unknown_text.high} measured on the validation split: the public sends text the model was not trained for."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "outside"
    expression  = "IF(${local.drift_judged} AND (rate < ${var.drift_band.unknown_text.low} OR rate > ${var.drift_band.unknown_text.high}), 1, 0)"
    label       = "unknown-text rate outside its band (1) or not (0)"
    return_data = true
  }

  metric_query {
    id = "rate"

    metric {
      namespace   = local.metrics_namespace
      metric_name = "UnknownText"
      dimensions  = local.drift_function
      period      = local.drift_period
      stat        = "Average"
    }
  }

  metric_query {
    id = "answers"

    metric {
      namespace   = local.metrics_namespace
      metric_name = "UnknownText"
      dimensions  = local.drift_function
      period      = local.drift_period
      stat        = "SampleCount"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "label_share" {
  for_each = var.drift_band.labels

  alarm_name          = "${var.name}-label-share-${lower(each.key)}"
  alarm_description   = "Over a day, the share of labelled answers that are ${each.key} left the band ${each.value.low}-${each.value.high} measured on the validation split."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "outside"
    expression  = "IF(${local.drift_judged} AND (FILL(label, 0) / answers < ${each.value.low} OR FILL(label, 0) / answers > ${each.value.high}), 1, 0)"
    label       = "${each.key} share outside its band (1) or not (0)"
    return_data = true
  }

  metric_query {
    id = "label"

    metric {
      namespace   = local.metrics_namespace
      metric_name = "Answers"
      dimensions  = merge(local.drift_function, { Label = each.key })
      period      = local.drift_period
      stat        = "Sum"
    }
  }

  metric_query {
    id = "answers"

    metric {
      namespace   = local.metrics_namespace
      metric_name = "Answers"
      dimensions  = local.drift_function
      period      = local.drift_period
      stat        = "Sum"
    }
  }
}
