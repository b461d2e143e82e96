# Live metrics' drift alarms: the Lambda's Embedded Metric Format lines (lambda/metrics.py) counted over a
# day against the band `invoke train` measured on the validation split (ml/drift.py, docs/live-metrics.md).
# A day with fewer than min_day_answers answers is not judged.

locals {
  metrics_namespace = "DbpediaClassifier" # lambda/metrics.py NAMESPACE
  drift_period      = 86400
  drift_function    = { Function = aws_lambda_function.classifier.function_name }
  drift_judged      = "answers >= ${var.drift_band.min_day_answers}"

  # One alarm per share judged: the part (a Sum) over all answers of the same metric.
  drift_alarms = merge(
    {
      "unknown-text-rate" = {
        what   = "the share of answers without a label (unknown text)"
        why    = ": the public sends text the model was not trained for"
        metric = "UnknownText"
        part   = local.drift_function
        whole  = "SampleCount" # UnknownText is 0 or 1 on every answer
        band   = var.drift_band.unknown_text
      }
    },
    {
      for label, band in var.drift_band.labels : "label-share-${lower(label)}" => {
        what   = "the share of labelled answers that are ${label}"
        why    = ""
        metric = "Answers"
        part   = merge(local.drift_function, { Label = label })
        whole  = "Sum"
        band   = band
      }
    },
  )
}

resource "aws_cloudwatch_metric_alarm" "drift" {
  for_each = local.drift_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "Over a day, ${each.value.what} left the band ${each.value.band.low}-${each.value.band.high} measured on the validation split${each.value.why}."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "outside"
    expression  = "IF(${local.drift_judged} AND (FILL(part, 0) / answers < ${each.value.band.low} OR FILL(part, 0) / answers > ${each.value.band.high}), 1, 0)"
    label       = "${each.key} outside its band (1) or not (0)"
    return_data = true
  }

  metric_query {
    id = "part"

    metric {
      namespace   = local.metrics_namespace
      metric_name = each.value.metric
      dimensions  = each.value.part
      period      = local.drift_period
      stat        = "Sum"
    }
  }

  metric_query {
    id = "answers"

    metric {
      namespace   = local.metrics_namespace
      metric_name = each.value.metric
      dimensions  = local.drift_function
      period      = local.drift_period
      stat        = each.value.whole
    }
  }
}
