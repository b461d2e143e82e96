# Application Auto Scaling of an instance-backed endpoint: its one production variant keeps between
# endpoint_capacity.instance_count (what `invoke train` deployed) and autoscaling.max_instances instances,
# tracking a target of invocations per instance per minute. A serverless endpoint scales itself: nothing here.
# SageMaker does the scaling; this file only registers the target and the policy (docs/endpoint-capacity.md).

locals {
  endpoint_variant  = "AllTraffic" # ml/aws/deploy.py's VARIANT
  instance_backed   = var.endpoint_capacity.mode == "instance"
  scalable_resource = "endpoint/${var.endpoint_name}/variant/${local.endpoint_variant}"
}

resource "aws_appautoscaling_target" "endpoint" {
  count = local.instance_backed ? 1 : 0

  service_namespace  = "sagemaker"
  resource_id        = local.scalable_resource
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.endpoint_capacity.instance_count
  max_capacity       = var.autoscaling.max_instances
}

resource "aws_appautoscaling_policy" "invocations_per_instance" {
  count = local.instance_backed ? 1 : 0

  name               = "${var.name}-invocations-per-instance"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.endpoint[0].service_namespace
  resource_id        = aws_appautoscaling_target.endpoint[0].resource_id
  scalable_dimension = aws_appautoscaling_target.endpoint[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.target_invocations_per_instance
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown_seconds
    scale_out_cooldown = var.autoscaling.scale_out_cooldown_seconds

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}
