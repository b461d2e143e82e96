"""``invoke tune --target aws`` on moto_server: the tuning request, and the best values written back.

moto implements CreateHyperParameterTuningJob and marks the job Completed at once, but it runs no training
job: its DescribeHyperParameterTuningJob answer carries a placeholder ``BestTrainingJob``
("FakeTrainingJobName", ``{"string": ...}`` as tuned values). The tests therefore answer that call with
moto's own response in which ``BestTrainingJob`` (or the status) is replaced: a recorded-response test for
that one field, through the ``recorded`` hook of tests/aws/conftest.py. Everything else is moto's.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from ml.aws import tune as sagemaker_tune
from ml.aws.session import SageMakerError
from ml.pipeline import TrainOutcome
from ml.tune import RANGES
from ops.infra.moto_server import MotoServer
from ops.settings import Settings, load_settings

from .conftest import BUCKET, IMAGE, ROLE_ARN, Hooks, aws_settings, recorded

BEST = {
    "epochs": "31",
    "learning_rate": "0.4213",
    "vector_dim": "24",
    "word_ngrams": "2",
    "min_count": "2",
    "buckets": "650000",
}
OBJECTIVE_VALUE = 0.9712


def _best_job(response: dict[str, Any]) -> dict[str, Any]:
    best = response["BestTrainingJob"]
    best["TrainingJobName"] = f"{response['HyperParameterTuningJobName']}-007-1a2b3c4d"
    best["TunedHyperParameters"] = dict(BEST)
    best["FinalHyperParameterTuningJobObjectiveMetric"] = {
        "Type": "Maximize",
        "MetricName": "validation:accuracy",
        "Value": OBJECTIVE_VALUE,
    }
    return response


def _failed(response: dict[str, Any]) -> dict[str, Any]:
    response.pop("BestTrainingJob", None)
    return {
        **response,
        "HyperParameterTuningJobStatus": "Failed",
        "FailureReason": "All training jobs failed.",
    }


def _settings(tmp_path: Path, trained: tuple[Settings, TrainOutcome]) -> Settings:
    path = tmp_path / "hyperparameters.json"
    path.write_text(trained[0].hyperparameters_file.read_text(encoding="utf-8"), encoding="utf-8")
    return aws_settings(
        tmp_path, trained, hyperparameters_file=path, tune_max_jobs=6, tune_max_parallel_jobs=2
    )


def test_tuning_job_request_and_best_values_written(
    aws: MotoServer, hooks: Hooks, trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    # GIVEN moto, whose tuning job "completes" with our recorded best training job
    hooks.on(
        "before-call.sagemaker.DescribeHyperParameterTuningJob",
        recorded(aws, "DescribeHyperParameterTuningJob", _best_job),
    )
    settings = _settings(tmp_path, trained)

    # WHEN the tuning runs
    result = sagemaker_tune.tune(settings)

    # THEN the request searched BlazingText's ranges for validation:accuracy on the uploaded channels
    sagemaker = aws.client("sagemaker")
    [summary] = sagemaker.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    job = sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=summary["HyperParameterTuningJobName"]
    )
    config = job["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",
        "MetricName": "validation:accuracy",
    }
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    ranges = {
        r["Name"]: (float(r["MinValue"]), float(r["MaxValue"]), r["ScalingType"])
        for kind in ("IntegerParameterRanges", "ContinuousParameterRanges")
        for r in config["ParameterRanges"].get(kind, [])
    }
    assert ranges == {
        name: (low, high, "Logarithmic" if name in ("learning_rate", "buckets") else "Auto")
        for name, (low, high) in RANGES.items()
    }
    assert [r["Name"] for r in config["ParameterRanges"]["ContinuousParameterRanges"]] == ["learning_rate"]
    definition = job["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"] == {"mode": "supervised"}
    assert definition["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert definition["RoleArn"] == ROLE_ARN
    assert definition["ResourceConfig"]["InstanceType"] == settings.training_instance_type
    channels = {c["ChannelName"]: c for c in definition["InputDataConfig"]}
    assert set(channels) == {"train", "validation"}
    for name, channel in channels.items():
        assert channel["ContentType"] == "text/plain"
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        assert uri.startswith(f"s3://{BUCKET}/dbpedia-classifier/data/") and uri.endswith(f"/{name}/")

    # AND the best job's values went into the hyperparameters file, which the next `invoke train` reads
    assert result.objective == OBJECTIVE_VALUE and result.best_training_job.endswith("-007-1a2b3c4d")
    written = json.loads(settings.hyperparameters_file.read_text(encoding="utf-8"))
    assert {k: written[k] for k in BEST} == {
        "epochs": 31,
        "learning_rate": 0.421,
        "vector_dim": 24,
        "word_ngrams": 2,
        "min_count": 2,
        "buckets": 650000,
    }
    assert (
        asdict(load_settings(hyperparameters_file=settings.hyperparameters_file).hyperparameters) == written
    )


def test_failed_tuning_job_stops_with_the_reason_and_leaves_the_file(
    aws: MotoServer, hooks: Hooks, trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    hooks.on(
        "before-call.sagemaker.DescribeHyperParameterTuningJob",
        recorded(aws, "DescribeHyperParameterTuningJob", _failed),
    )
    settings = _settings(tmp_path, trained)
    before = settings.hyperparameters_file.read_bytes()
    with pytest.raises(SageMakerError, match=r"ended Failed: All training jobs failed\."):
        sagemaker_tune.tune(settings)
    assert settings.hyperparameters_file.read_bytes() == before
