"""The SageMaker side's settings (target aws): the account's role and bucket, training and tuning jobs, the
guarded update, Batch Transform. Declared like the model's (``ml/config.py``); ``ops/settings.py`` composes
them with the stack's."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from ml.config import ModelSettings


class AwsSettings(ModelSettings):
    """The model's settings and SageMaker's (``DBP_<NAME>`` each)."""

    # --- SageMaker (target aws) ------------------------------------------------------------------
    role_arn: str = Field(
        "",
        description="aws: the SageMaker execution role ARN (empty: <endpoint_name>-sagemaker-execution in "
        "the caller's account, as terraform/bootstrap creates it)",
    )
    bucket: str = Field(
        "", description="aws: S3 bucket for channels and job outputs (empty: sagemaker-<region>-<account>)"
    )
    s3_prefix: str = Field("dbpedia-classifier", min_length=1, description="aws: key prefix in the bucket")
    training_instance_type: str = Field("ml.c5.xlarge", description="aws: training instance type")

    # --- tuning (`invoke tune`) ------------------------------------------------------------------
    tune_max_jobs: int = Field(20, ge=1, le=500, description="aws: training jobs of the tuning job")
    tune_max_parallel_jobs: int = Field(2, ge=1, le=500, description="aws: training jobs at once")

    # --- rollout (docs/rollout.md) ----------------------------------------------------------------
    bake_seconds: int = Field(
        600, ge=0, le=3600, description="aws: how long each traffic step is watched by the alarms"
    )
    traffic_shift: Literal["canary", "linear"] = Field(
        "canary", description="aws, 2+ instances: shift one instance's share first, or one at a time"
    )
    ignore_alarms: tuple[str, ...] = Field(
        (), description="aws: alarms in ALARM that may not stop a guarded update (it does not watch them)"
    )

    # --- bulk classification (`invoke classify`) -------------------------------------------------
    transform_instance_type: str = Field("ml.m5.large", description="aws: Batch Transform instance type")
    transform_instance_count: int = Field(1, ge=1, description="aws: Batch Transform instances")

    @model_validator(mode="after")
    def _consistent_jobs(self) -> Self:
        if self.tune_max_parallel_jobs > self.tune_max_jobs:
            raise ValueError("{tune_max_parallel_jobs} must be at most {tune_max_jobs}")
        return self
