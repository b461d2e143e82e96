"""``invoke tune --target aws``: SageMaker automatic model tuning of BlazingText, saved under its own names.

A ``HyperparameterTuner`` (SageMaker SDK v3) over a ``ModelTrainer`` built like the training job's
(ml/aws/train.py: same image, role, instance type, output path and uploaded ``train`` /
``validation`` channels), searching ``ml.tune.RANGES`` (learning rate and buckets on a log scale) with
BlazingText's own objective, ``validation:accuracy``, maximized. The hyperparameters that are not tuned
(``mode``, ``min_count``…) are passed as static values from the current settings. When the tuning job is
Completed, its best training job's tuned values (clamped into the ranges) go into the hyperparameters
file, so the next ``invoke train`` uses them.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

from ml.aws.config import AwsSettings
from ml.config import log
from ml.fsutil import write_json
from ml.hyperparameters import Hyperparameters
from ml.tune import RANGES, clamp, write_hyperparameters

OBJECTIVE = "validation:accuracy"
JOB_PREFIX = "blazingtext-tune"  # the SDK appends a timestamp; tuning job names have at most 32 characters
LOG_SCALE = ("learning_rate", "buckets")
RESULT_FILE = "tune-aws.json"


@dataclass(frozen=True)
class AwsTuneResult:
    """The tuning job, its best training job and objective value, and the hyperparameters written."""

    tuning_job: str
    best_training_job: str
    objective: float
    tuned: Hyperparameters
    written: bool = True  # the tuning job's best values always go to the file

    @property
    def summary(self) -> str:
        """What the search found, in words (as ``invoke tune`` shows it)."""
        return (
            f"tuning job: {self.tuning_job}\nbest job:   {self.best_training_job} "
            f"({OBJECTIVE} {self.objective:.4f})"
        )


def parameter_ranges() -> dict[str, Any]:
    """``RANGES`` as the SDK's parameter ranges."""
    from sagemaker.core.parameter import ContinuousParameter, IntegerParameter

    ranges: dict[str, Any] = {}
    for name, (low, high) in RANGES.items():
        scaling = "Logarithmic" if name in LOG_SCALE else "Auto"
        if name == "learning_rate":
            ranges[name] = ContinuousParameter(low, high, scaling_type=scaling)
        else:
            ranges[name] = IntegerParameter(int(low), int(high), scaling_type=scaling)
    return ranges


def best_hyperparameters(job: dict[str, Any], base: Hyperparameters) -> tuple[str, float, Hyperparameters]:
    """From a DescribeHyperParameterTuningJob answer: best training job, objective value, its hyperparameters.

    Raises:
        SageMakerError: the tuning job did not complete, or has no best training job.
    """
    from ml.aws.session import SageMakerError

    name, status = job["HyperParameterTuningJobName"], job["HyperParameterTuningJobStatus"]
    if status != "Completed":
        raise SageMakerError(
            f"tuning job {name} ended {status}: {job.get('FailureReason', 'no reason given')}; "
            "its training jobs' logs are in CloudWatch, /aws/sagemaker/TrainingJobs"
        )
    best = job.get("BestTrainingJob")
    if not best:
        raise SageMakerError(f"tuning job {name} has no best training job (did every training job fail?)")
    tuned = {k: float(v) for k, v in best.get("TunedHyperParameters", {}).items() if k in RANGES}
    if not tuned:
        raise SageMakerError(f"tuning job {name}: its best training job reports no tuned hyperparameters")
    objective = float(best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    return best["TrainingJobName"], objective, clamp(tuned, base)


def tune(settings: AwsSettings) -> AwsTuneResult:
    """Run the tuning job on SageMaker, wait for it, and write its best hyperparameters to the config file.

    Raises:
        ConfigError: no or a malformed role ARN, no region.
        SageMakerError: AWS refused a call, or the tuning job failed or found nothing.
    """
    from ml.aws import train as sagemaker_train
    from ml.aws.session import aws_errors, connect
    from ml.pipeline import prepare_data

    with aws_errors():
        aws = connect(settings)
        _, prepared = prepare_data(settings)
        channels = sagemaker_train.upload_channels(aws, prepared)
        tuner = _tuner(aws, settings)
        log.info(
            "starting a tuning job: %d training jobs (%d at once) on %s, objective %s",
            settings.tune_max_jobs,
            settings.tune_max_parallel_jobs,
            settings.training_instance_type,
            OBJECTIVE,
        )
        from sagemaker.core.utils.exceptions import FailedStatusError

        with suppress(FailedStatusError):  # the job's own description says why; see best_hyperparameters()
            tuner.tune(inputs=sagemaker_train.input_channels(channels), wait=True)
        name = tuner.latest_tuning_job.hyper_parameter_tuning_job_name
        job = aws.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    best_job, objective, tuned = best_hyperparameters(job, settings.hyperparameters)
    write_hyperparameters(settings.hyperparameters_file, tuned)
    write_json(
        settings.build_dir / "tune" / RESULT_FILE,
        {
            "tuning_job": name,
            "best_training_job": best_job,
            OBJECTIVE: objective,
            "hyperparameters": asdict(tuned),
            "written_to": str(settings.hyperparameters_file),
        },
    )
    log.info(
        "best training job %s: %s %.4f; wrote %s",
        best_job,
        OBJECTIVE,
        objective,
        settings.hyperparameters_file,
    )
    return AwsTuneResult(name, best_job, objective, tuned)


def _tuner(aws: Any, settings: AwsSettings) -> Any:
    """The SDK's tuner around a BlazingText ModelTrainer; the tuned names are dropped from the static ones."""
    from sagemaker.train.tuner import HyperparameterTuner

    from ml.aws.train import JOB_PREFIX as TRAIN_PREFIX
    from ml.aws.train import model_trainer

    static = {k: v for k, v in settings.hyperparameters.as_blazingtext().items() if k not in RANGES}
    return HyperparameterTuner(
        model_trainer(aws, settings, aws.image, TRAIN_PREFIX, static),
        OBJECTIVE,
        parameter_ranges(),
        objective_type="Maximize",
        max_jobs=settings.tune_max_jobs,
        max_parallel_jobs=settings.tune_max_parallel_jobs,
        base_tuning_job_name=JOB_PREFIX,
    )
