"""``--target aws``: the pipeline on SageMaker, sharing data, evaluation and versions with ml/pipeline.

The model comes from a SageMaker BlazingText training job (ml/aws/train.py), becomes a version like a
local one, is registered as a model package (ml/aws/versions.py), passes the quality gate and goes to a
SageMaker endpoint through the guarded update (ml/aws/deploy.py); the local endpoint registry names it
too, so `invoke up` serves that very artifact. ``rollback`` puts an earlier approved package back. The
functions have the names and return types of ml/pipeline.py's: ``run``, ``list_versions``, ``approve``,
``rollback``.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from ml import data, deploy, page, versions, vocabulary
from ml.aws import deploy as sagemaker_deploy
from ml.aws import session, store
from ml.aws import train as sagemaker_train
from ml.aws import versions as packages
from ml.aws.config import AwsSettings
from ml.aws.resources import find_endpoint_resources
from ml.config import log
from ml.fsutil import file_digest
from ml.package import ARCHIVE
from ml.pipeline import (
    TrainOutcome,
    accepted_feedback,
    deployed,
    gate,
    package_version,
    prepare_data,
    register_approval,
    remove_leftovers,
    with_feedback_slice,
)
from ml.preprocess import BASELINE_TRAIN


def run(settings: AwsSettings, review: versions.Review | None = None) -> TrainOutcome:
    """Upload, train on SageMaker, evaluate locally, register the version and deploy the endpoint.

    A version registered pending (no ``--approve``) is shown to ``review`` (the task's prompt, on a
    terminal); approved there, it goes on to the gate. Without a review it stops before any deploy, with
    the commands that finish the run: the training is done and paid, and a re-run reuses its job.
    """
    with session.aws_errors():
        aws = session.connect(settings)  # first: a missing role or credentials stop the run at once
        remove_leftovers(settings)
        dataset, prepared = prepare_data(settings)
        shown = page.describe(dataset, settings)  # a bad labels.json stops the run before any training
        fed = accepted_feedback(settings, dataset)
        # the feedback slice's old model is the endpoint's: looked up before paying for a training job
        old = _live_archive(aws, settings) if fed is not None else None
        job = sagemaker_train.train(aws, settings, prepared, fed)
        fetch = with_feedback_slice(
            settings, sagemaker_train.artifact_producer(aws, job, settings.model_dir / "unpacked"), fed, old
        )
        folder, _ = package_version(settings, dataset, prepared, f"sagemaker-{job.name}", fetch)
        sha = file_digest(folder / ARCHIVE)
        # the Lambda zip ships the model's topical vocabulary: derived beside the version, stored with it
        train_rows = prepared.path(BASELINE_TRAIN)
        splits = partial(data.make_splits, dataset, settings)  # read only if not derived yet
        vocabulary.ensure(folder / ARCHIVE, settings.build_dir / "endpoint-cache", train_rows, splits)
        page.write(folder, shown)  # what the page shows of it (ops/infra/inputs.py renders it)
        inputs = store.upload(aws.s3, folder, aws.uri(store.MODELS))
        version = register_approval(settings, folder)
        package = packages.register(
            aws.sagemaker,
            settings.endpoint_name,
            version,
            image=aws.image,
            model_data=job.model_data,
            artifact_sha256=sha,
            approve=settings.approve,
            deploy_inputs=inputs,
        )
        candidate = replace(version, approval={**version.approval, "status": package.status})
        if candidate.status != versions.APPROVED and not settings.unapproved_ok:
            if review is None or not review(candidate):
                raise versions.GateError(
                    f"version {version.id} is {candidate.status} (trained and paid for; nothing deployed): "
                    f"approve it with `invoke approve {version.id} --target aws`, then run "
                    "`invoke train --target aws` again (it reuses the finished job), or train with --approve"
                )
            note = "approved at the prompt of invoke train"
            package = packages.set_status(aws.sagemaker, package, versions.APPROVED, note)
            candidate = replace(version, approval=versions.set_approval(version, versions.APPROVED, note))
        gate(settings, candidate, prepared, live_version(aws.sagemaker, settings))
        alarms, firing = packages.endpoint_alarms(aws.boto.client("cloudwatch"), settings.endpoint_name)
        sagemaker_deploy.deploy(
            aws.sagemaker,
            settings,
            image=aws.image,
            model_data=job.model_data,
            artifact_sha256=sha,
            role_arn=aws.role_arn,
            alarms=alarms,
            firing=firing,
            model_store=aws.uri(store.MODELS),
        )
    deploy.register_local(settings, folder / ARCHIVE)  # `invoke up` serves the SageMaker artifact as is
    return deployed(settings, job.reused)


def download_artifact(settings: AwsSettings, url: str) -> Path:
    """Download an ``s3://`` model archive once into ``build/downloads/<hash of the URL>/model.tar.gz``."""
    folder = settings.build_dir / "downloads" / hashlib.sha256(url.encode()).hexdigest()[:16]
    with session.aws_errors():
        s3 = session.boto_session(settings.region).client("s3")
        return session.download(s3, url, folder / "model.tar.gz")


def live_id(client: Any, endpoint: str) -> str | None:
    """The version the SageMaker endpoint serves: its model is named ``<endpoint>-<version id>``."""
    resources = find_endpoint_resources(client, endpoint)
    return resources.models[0].rsplit("-", 1)[1] if resources and resources.models else None


def live_version(client: Any, settings: AwsSettings) -> versions.Version | None:
    """The live version's local record (its folder under build/model/versions), to compare with."""
    version_id = live_id(client, settings.endpoint_name)
    if version_id is None:
        return None
    where = versions.versions_dir(settings)
    try:
        return versions.find(where, version_id)
    except versions.GateError:
        raise versions.GateError(
            f"the endpoint serves version {version_id}, which is not in {where}: the gate "
            "cannot compare against it (train it here, or deploy from the machine that has it)"
        ) from None


def _live_archive(aws: session.Aws, settings: AwsSettings) -> Path | None:
    """The model archive the SageMaker endpoint serves (its version folder here), or None: no endpoint."""
    live = live_version(aws.sagemaker, settings)
    return live.archive if live is not None else None


def list_packages(settings: AwsSettings) -> tuple[list[packages.Package], str | None]:
    """The endpoint's model packages, oldest first, and the live version id (``invoke models``)."""
    with session.aws_errors():
        client = session.boto_session(settings.region).client("sagemaker")
        return packages.packages(client, settings.endpoint_name), live_id(client, settings.endpoint_name)


def list_versions(settings: AwsSettings) -> list[versions.Listed]:
    """The endpoint's model packages as versions, oldest first, the live one marked (``invoke models``)."""
    found, live = list_packages(settings)
    return [packages.listed(p, live) for p in found]


def approve(settings: AwsSettings, version_id: str, status: str) -> str:
    """Set a package's approval (``invoke approve --target aws``); what now holds which status, in words."""
    with session.aws_errors():
        client = session.boto_session(settings.region).client("sagemaker")
        package = packages.set_status(
            client, _package(client, settings, version_id), status, f"{status} by invoke"
        )
    return f"model package {package.arn}: {package.status}"


def _package(client: Any, settings: AwsSettings, version_id: str) -> packages.Package:
    found = packages.packages(client, settings.endpoint_name)
    matches = [p for p in found if len(version_id) >= 4 and p.version.startswith(version_id)]
    if len(matches) != 1:
        known = ", ".join(p.version for p in found) or "none"
        raise versions.GateError(f"{version_id!r} names no single model package; versions: {known}")
    return matches[0]


def _deploy_inputs(aws: session.Aws, settings: AwsSettings, package: packages.Package) -> str:
    """Where a package's deploy inputs are: as it names them; for one registered before they were stored,
    uploaded now from its version folder when that is complete here; else ""."""
    if package.metadata.get("deploy_inputs"):
        return package.metadata["deploy_inputs"]
    folder = versions.versions_dir(settings) / package.version
    if all((folder / name).is_file() for name in store.FILES) and vocabulary.is_current(folder / ARCHIVE):
        return store.upload(aws.s3, folder, aws.uri(store.MODELS))
    return ""


def rollback(settings: AwsSettings, to: str | None = None) -> str:
    """Deploy the named package, or the newest approved one older than the live, through the guarded path;
    its version id."""
    with session.aws_errors():
        aws = session.connect(settings)
        live = live_id(aws.sagemaker, settings.endpoint_name)
        if to:
            target = _package(aws.sagemaker, settings, to)
        else:
            found = packages.packages(aws.sagemaker, settings.endpoint_name)
            position = next((i for i, p in enumerate(found) if p.version == live), len(found))
            earlier = [p for p in found[:position] if p.status == versions.APPROVED]
            if not earlier:
                raise versions.GateError(
                    "no earlier approved model package to roll back to; name one with --to"
                )
            target = earlier[-1]
        if target.status != versions.APPROVED and not settings.unapproved_ok:
            raise versions.GateError(f"version {target.version} is {target.status}: approve it first")
        alarms, firing = packages.endpoint_alarms(aws.boto.client("cloudwatch"), settings.endpoint_name)
        sagemaker_deploy.deploy(
            aws.sagemaker,
            settings,
            image=target.image,
            model_data=target.model_data,
            artifact_sha256=target.metadata["artifact_sha256"],
            role_arn=aws.role_arn,
            alarms=alarms,
            firing=firing,
            model_store=store.store_of(_deploy_inputs(aws, settings, target)),
        )
    archive = versions.versions_dir(settings) / target.version / ARCHIVE
    if archive.is_file():
        deploy.register_local(settings, archive)
    log.info("endpoint %s serves version %s again", settings.endpoint_name, target.version)
    return target.version
