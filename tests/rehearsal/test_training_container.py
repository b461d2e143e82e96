"""The training-container stand-in: moto marks a job Completed and writes nothing; through the proxy the job
really trains on its own channels, and the artifact and the accuracy line are where SageMaker puts them."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import boto3

from ml.hyperparameters import Hyperparameters
from ml.pipeline import TrainOutcome
from ml.predict import Predictor
from ops.infra.moto_server import MotoServer
from ops.infra.sagemaker_standin import SageMakerStandIn
from ops.settings import Settings

REGION = "us-east-1"
BUCKET = "channels"


def client(url: str, service: str) -> object:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_training_job_through_the_proxy_trains_on_its_channels(
    tmp_path: Path, trained: tuple[Settings, TrainOutcome]
) -> None:
    # GIVEN real fastText lines (the trained fixture's validation split) uploaded as the two channels
    settings, _ = trained
    channel = next(settings.data_dir.glob("prepared/*/validation.txt"))
    with MotoServer() as moto, SageMakerStandIn(moto.url, partial(client, moto.url), tmp_path) as proxy:
        s3 = client(moto.url, "s3")
        s3.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        for name in ("train", "validation"):
            s3.upload_file(str(channel), BUCKET, f"data/{name}/{name}.txt")  # type: ignore[attr-defined]
        hyperparameters = Hyperparameters(epochs=30).as_blazingtext()
        # WHEN a BlazingText training job is created through the proxy
        sagemaker = client(proxy.url, "sagemaker")
        sagemaker.create_training_job(  # type: ignore[attr-defined]
            TrainingJobName="bt-1",
            AlgorithmSpecification={"TrainingImage": "blazingtext:1", "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::000000000000:role/execution",
            HyperParameters=hyperparameters,
            InputDataConfig=[
                {
                    "ChannelName": name,
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/{name}/"}
                    },
                    "ContentType": "text/plain",
                }
                for name in ("train", "validation")
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
            ResourceConfig={"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
        # THEN the job completes (it is InProgress while it trains: the next test)
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(  # type: ignore[attr-defined]
            TrainingJobName="bt-1", WaiterConfig={"Delay": 1, "MaxAttempts": 600}
        )
        job = sagemaker.describe_training_job(TrainingJobName="bt-1")  # type: ignore[attr-defined]
        assert job["TrainingJobStatus"] == "Completed"
        # AND its artifact is a real model: it has learnt the lines it was trained on (14 classes, chance 7%)
        _, _, key = job["ModelArtifacts"]["S3ModelArtifacts"][5:].partition("/")
        s3.download_file(BUCKET, key, str(tmp_path / "model.tar.gz"))  # type: ignore[attr-defined]
        predictor = Predictor.from_archive(tmp_path / "model.tar.gz", tmp_path / "cache")
        lines = [line.split(" ", 1) for line in channel.read_text(encoding="utf-8").splitlines()]
        answers = predictor.predict([text for _, text in lines], k=1)
        right = sum(answer["label"][0] == label for answer, (label, _) in zip(answers, lines, strict=True))
        assert right / len(lines) > 0.5
        # AND BlazingText's accuracy line is in the job's log stream, as the pipeline reads it
        logs = client(moto.url, "logs")
        events = logs.filter_log_events(  # type: ignore[attr-defined]
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="bt-1/"
        )["events"]
        assert any(e["message"].startswith("#validation_accuracy: ") for e in events)
        assert proxy.trained == ["bt-1"]


def test_a_job_training_here_is_in_progress_and_a_failed_one_says_why(tmp_path: Path) -> None:
    # GIVEN the stand-in with one job training and one that failed (moto says Completed for both)
    with MotoServer() as moto, SageMakerStandIn(moto.url, partial(client, moto.url), tmp_path) as proxy:
        proxy.running.add("training")
        proxy.failed["broken"] = "AlgorithmError: no train channel"
        completed = {"TrainingJobStatus": "Completed", "SecondaryStatus": "Completed"}
        # WHEN their descriptions pass through it  THEN they say what the container does
        assert proxy.status({"TrainingJobName": "training", **completed})["TrainingJobStatus"] == "InProgress"
        broken = proxy.status({"TrainingJobName": "broken", **completed})
        assert broken["TrainingJobStatus"] == "Failed" and broken["FailureReason"].endswith(
            "no train channel"
        )
        assert proxy.status({"TrainingJobName": "other", **completed}) == {
            "TrainingJobName": "other",
            **completed,
        }
