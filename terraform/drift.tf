# Live metrics' drift alarms: the Lambda's Embedded Metric Format lines (lambda/metrics.py) counted against the
# band `invoke train` measured on the validation split (ml/drift.py, docs/live-metrics.md). Each share has two
# alarms: above its high edge over a day of at least min_day_answers answers, and below its low edge over a
# week (CloudWatch's longest evaluation: period x evaluation periods <= 7 days) of at least its low_answers
# answers, the count its low edge was derived for; a share without low_answers has no low alarm.

locals {
  metrics_namespace = "DbpediaClassifier" # lambda/metrics.py NAMESPACE
  drift_day         = 86400
  drift_week        = 604800
  drift_function    = { Function = aws_lambda_function.classifier.function_name }

  # Each share judged: the part (a Sum) over all answers of the same metric.
  drift_shares = merge(
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

  # One alarm per share and side: the high side keeps the share's name, the low side adds "-low".
  drift_alarms = merge(
    {
      for key, share in local.drift_shares : key => merge(share, {
        period  = local.drift_day
        outside = "above ${share.band.high}, the high edge of the band"
        test    = "answers >= ${var.drift_band.min_day_answers} AND FILL(part, 0) / answers > ${share.band.high}"
        window  = "a day of at least ${var.drift_band.min_day_answers} answers"
      })
    },
    {
      for key, share in local.drift_shares : "${key}-low" => merge(share, {
        period  = local.drift_week
        outside = "below ${share.band.low}, the low edge of the band"
        test    = "answers >= ${share.band.low_answers} AND FILL(part, 0) / answers < ${share.band.low}"
        window  = "a week of at least ${share.band.low_answers} answers"
      }) if share.band.low_answers != null
    },
  )
}

resource "aws_cloudwatch_metric_alarm" "drift" {
  for_each = local.drift_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "Over ${each.value.window}, ${each.value.what} was ${each.value.outside} measured on the validation split${each.value.why}."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "outside"
    expression  = "IF(${each.value.test}, 1, 0)"
    label       = "${each.key} outside its band (1) or not (0)"
    return_data = true
  }

  metric_query {
    id = "part"

    metric {
      namespace   = local.metrics_namespace
      metric_name = each.value.metric
      dimensions  = each.value.part
      period      = each.value.period
      stat        = "Sum"
    }
  }

  metric_query {
    id = "answers"

    metric {
      namespace   = local.metrics_namespace
      metric_name = each.value.metric
      dimensions  = local.drift_function
      period      = each.value.period
      stat        = each.value.whole
    }
  }
}
