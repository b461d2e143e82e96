"""``--target aws``: the pipeline on SageMaker, sharing data, evaluation and versions with ml/pipeline.

The model comes from a SageMaker BlazingText training job (ml/aws/train.py), becomes a version like a
local one, and goes to a SageMaker endpoint (ml/aws/deploy.py); the local endpoint registry names it
too, so `invoke up` serves that very artifact.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ml import registry as deploy
from ml import vocabulary
from ml.aws import deploy as sagemaker_deploy
from ml.aws import train as sm
from ml.config import Settings
from ml.fsutil import file_digest
from ml.package import ARCHIVE
from ml.pipeline import TrainOutcome, deployed, package_version, prepare_data, remove_leftovers


def run(settings: Settings) -> TrainOutcome:
    """Upload, train on SageMaker, evaluate locally, register the version and deploy the endpoint."""
    with sm.aws_errors():
        aws = sm.connect(settings)  # first: a missing role or credentials stop the run at once
        remove_leftovers(settings)
        dataset, prepared = prepare_data(settings)
        job = sm.train(aws, settings, prepared)
        fetch = sm.artifact_producer(aws, job, settings.model_dir / "unpacked")
        folder, _ = package_version(settings, dataset, prepared, f"sagemaker-{job.name}", fetch)
        sagemaker_deploy.deploy(
            aws.sagemaker,
            settings,
            image=aws.image,
            model_data=job.model_data,
            artifact_sha256=file_digest(folder / ARCHIVE),
            role_arn=aws.role_arn,
        )
    vocabulary.ensure(folder / ARCHIVE, settings.build_dir / "endpoint-cache")  # the Lambda zip ships it
    deploy.register_local(settings, folder / ARCHIVE)  # `invoke up` serves the SageMaker artifact as is
    return deployed(settings, job.reused)


def download_artifact(settings: Settings, url: str) -> Path:
    """Download an ``s3://`` model archive once into ``build/downloads/<hash of the URL>/model.tar.gz``."""
    folder = settings.build_dir / "downloads" / hashlib.sha256(url.encode()).hexdigest()[:16]
    with sm.aws_errors():
        s3 = sm.boto_session(settings.region).client("s3")
        return sm.download(s3, url, folder / "model.tar.gz")
