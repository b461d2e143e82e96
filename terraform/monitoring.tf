# Observability: an SNS topic (with an optional e-mail subscription), alarms on the API's 5xx rate, the
# Lambda's errors and throttles, and the endpoint's ModelLatency p99 and Invocation5XXErrors, all notifying the
# topic; and one CloudWatch dashboard with those graphs and the live metrics the Lambda's one log line per
# request carries in Embedded Metric Format (lambda/metrics.py; their drift alarms: drift.tf).

locals {
  alarm_period = var.alarms.period_seconds

  api_dimensions      = { ApiId = aws_apigatewayv2_api.classifier.id }
  lambda_dimensions   = { FunctionName = aws_lambda_function.classifier.function_name }
  endpoint_dimensions = { EndpointName = var.endpoint_name, VariantName = local.endpoint_variant }
}

# --- Where alarms go ---------------------------------------------------------------------------

resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26: CloudWatch cannot publish to a topic under the AWS-managed SNS key; alarms carry no secrets
  name = "${var.name}-alarms"
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# --- Alarms ------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name          = "${var.name}-api-5xx-rate"
  alarm_description   = "More than ${var.alarms.api_5xx_percent}% of the API's requests answered 5xx (HTTP API ${aws_apigatewayv2_api.classifier.id})."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.api_5xx_percent
  evaluation_periods  = var.alarms.evaluation_periods
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    label       = "5xx responses, % of requests"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "5xx"
      dimensions  = local.api_dimensions
      period      = local.alarm_period
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      dimensions  = local.api_dimensions
      period      = local.alarm_period
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  alarm_name          = "${var.name}-lambda-errors"
  alarm_description   = "The Lambda ${var.name} failed (crash, timeout or out of memory; handled errors answer 4xx/5xx instead)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = local.lambda_dimensions
  statistic           = "Sum"
  period              = local.alarm_period
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.lambda_errors
  evaluation_periods  = var.alarms.evaluation_periods
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  alarm_name          = "${var.name}-lambda-throttles"
  alarm_description   = "The Lambda ${var.name} was throttled (the account's concurrency is exhausted)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = local.lambda_dimensions
  statistic           = "Sum"
  period              = local.alarm_period
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.lambda_throttles
  evaluation_periods  = var.alarms.evaluation_periods
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "endpoint_model_latency_p99" {
  alarm_name          = "${var.name}-endpoint-model-latency-p99"
  alarm_description   = "The endpoint ${var.endpoint_name}'s p99 model latency is above ${var.alarms.model_latency_p99_ms} ms."
  namespace           = "AWS/SageMaker"
  metric_name         = "ModelLatency"
  dimensions          = local.endpoint_dimensions
  extended_statistic  = "p99"
  period              = local.alarm_period
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.model_latency_p99_ms * 1000 # ModelLatency is in microseconds
  evaluation_periods  = var.alarms.evaluation_periods
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "endpoint_5xx" {
  alarm_name          = "${var.name}-endpoint-5xx"
  alarm_description   = "The endpoint ${var.endpoint_name} answered 5xx (the model container failed)."
  namespace           = "AWS/SageMaker"
  metric_name         = "Invocation5XXErrors"
  dimensions          = local.endpoint_dimensions
  statistic           = "Sum"
  period              = local.alarm_period
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.endpoint_5xx_errors
  evaluation_periods  = var.alarms.evaluation_periods
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# --- Dashboard ---------------------------------------------------------------------------------

locals {
  alarm_arns = concat([
    aws_cloudwatch_metric_alarm.api_5xx_rate.arn,
    aws_cloudwatch_metric_alarm.lambda_errors.arn,
    aws_cloudwatch_metric_alarm.lambda_throttles.arn,
    aws_cloudwatch_metric_alarm.endpoint_model_latency_p99.arn,
    aws_cloudwatch_metric_alarm.endpoint_5xx.arn,
  ], [for alarm in aws_cloudwatch_metric_alarm.drift : alarm.arn]) # drift.tf

  # A metric line is namespace, name, dimension name/value pairs, options; "." repeats the line above.
  api_metric      = ["AWS/ApiGateway", "Count", "ApiId", aws_apigatewayv2_api.classifier.id]
  lambda_metric   = ["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.classifier.function_name]
  endpoint_metric = ["AWS/SageMaker", "Invocations", "EndpointName", var.endpoint_name, "VariantName", local.endpoint_variant]
  model_latency   = ["AWS/SageMaker", "ModelLatency", "EndpointName", var.endpoint_name, "VariantName", local.endpoint_variant]
  per_instance    = ["AWS/SageMaker", "InvocationsPerInstance", "EndpointName", var.endpoint_name, "VariantName", local.endpoint_variant]

  # Each graph: a title and its metric lines; laid out two to a row below.
  graphs = concat(
    [
      {
        title = "API: requests and errors (sum)"
        metrics = [
          concat(local.api_metric, [{ stat = "Sum", label = "requests" }]),
          [".", "4xx", ".", ".", { stat = "Sum" }],
          [".", "5xx", ".", ".", { stat = "Sum" }],
        ]
      },
      {
        title = "API: 5xx rate (% of requests) and latency p99 (ms)"
        metrics = [
          [{ expression = "IF(requests > 0, 100 * errors / requests, 0)", label = "5xx %", id = "rate" }],
          concat(local.api_metric, [{ stat = "Sum", id = "requests", visible = false }]),
          [".", "5xx", ".", ".", { stat = "Sum", id = "errors", visible = false }],
          [".", "Latency", ".", ".", { stat = "p99", yAxis = "right", label = "latency p99" }],
        ]
      },
      {
        title = "Lambda: invocations, errors, throttles (sum) and duration p99 (ms)"
        metrics = [
          concat(local.lambda_metric, [{ stat = "Sum" }]),
          [".", "Errors", ".", ".", { stat = "Sum" }],
          [".", "Throttles", ".", ".", { stat = "Sum" }],
          [".", "Duration", ".", ".", { stat = "p99", yAxis = "right" }],
        ]
      },
      {
        title = "Endpoint: invocations and errors (sum)"
        metrics = [
          concat(local.endpoint_metric, [{ stat = "Sum" }]),
          [".", "Invocation4XXErrors", ".", ".", ".", ".", { stat = "Sum" }],
          [".", "Invocation5XXErrors", ".", ".", ".", ".", { stat = "Sum" }],
        ]
      },
      {
        title   = "Live: requests by outcome (sum; lambda/metrics.py)"
        metrics = [[{ expression = "SEARCH('{${local.metrics_namespace},Function,Outcome} MetricName=\"Requests\" Function=\"${var.name}\"', 'Sum', ${local.alarm_period})", id = "outcomes" }]]
      },
      {
        title   = "Live: answers by label (sum)"
        metrics = [[{ expression = "SEARCH('{${local.metrics_namespace},Function,Label} MetricName=\"Answers\" Function=\"${var.name}\"', 'Sum', ${local.alarm_period})", id = "labels" }]]
      },
      {
        title = "Live: unknown-text, low-confidence and explained shares of answers (band of unknown text: ${var.drift_band.unknown_text.low}-${var.drift_band.unknown_text.high})"
        metrics = [
          [local.metrics_namespace, "UnknownText", "Function", var.name, { stat = "Average", label = "unknown text" }],
          [".", "LowConfidence", ".", ".", { stat = "Average", label = "low confidence (middle band)" }],
          [".", "Explained", ".", ".", { stat = "Average", label = "explained on request" }],
        ]
      },
      {
        title = "Live: the Lambda's latency p50 and p99 (ms)"
        metrics = [
          [local.metrics_namespace, "Latency", "Function", var.name, { stat = "p50" }],
          [".", ".", ".", ".", { stat = "p99" }],
        ]
      },
      {
        title = "Endpoint: model latency p50 and p99 (microseconds)"
        metrics = [
          concat(local.model_latency, [{ stat = "p50" }]),
          [".", ".", ".", ".", ".", ".", { stat = "p99" }],
        ]
      },
    ],
    # Only an instance-backed endpoint has instances to count, and a target to track.
    [
      for graph in [{
        title = "Endpoint: invocations per instance per minute (autoscaling target ${var.autoscaling.target_invocations_per_instance})"
        metrics = [
          concat(local.per_instance, [{ stat = "Sum", period = 60 }]),
        ]
      }] : graph if local.instance_backed
    ],
  )
}

resource "aws_cloudwatch_dashboard" "classifier" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = concat(
      [
        {
          type       = "alarm"
          x          = 0
          y          = 0
          width      = 24
          height     = 3
          properties = { title = "Alarms", alarms = local.alarm_arns }
        },
      ],
      [
        for index, graph in local.graphs : {
          type   = "metric"
          x      = (index % 2) * 12
          y      = 3 + floor(index / 2) * 6
          width  = 12
          height = 6
          properties = {
            title   = graph.title
            region  = var.aws_region
            view    = "timeSeries"
            stacked = false
            period  = local.alarm_period
            metrics = graph.metrics
          }
        }
      ],
    )
  })
}
