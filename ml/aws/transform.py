"""``invoke classify --target aws``: a SageMaker Batch Transform job on the deployed model.

The texts are tokenized by the Lambda's tokenizer and written as the JSON lines BlazingText takes in batch
transform, ``{"source": "tok tok …", "k": 3}``; the job reads them with ``ContentType`` and ``Accept``
``application/jsonlines`` (BlazingText wants both equal), ``SplitType=Line`` and ``MultiRecord`` batches,
and writes ``{"prob": [...], "label": ["__label__X", ...]}`` lines in the same order (``AssembleWith=Line``)
to ``<input name>.out``, which is downloaded and joined back to the ids by position.

Layout: ``s3://<bucket>/<prefix>/transform/<input sha>/input/input.jsonl`` and ``.../output/<job>/``. The
model is the one the endpoint serves (DescribeEndpoint → DescribeEndpointConfig, :func:`endpoint_model`),
which :func:`classify` also records in the output's key. The job's name holds a key of the input, model and
instances, so a re-run reuses a Completed job (or waits for a running one) and uploads nothing again.

``--explain`` (docs/explanations.md): each text with words is written as the lines of its explanation's
instances (the text, then it without each of its first ``explain_max_words`` words, as the Lambda sends
them in one request), each asking every label of the model; the job answers them line by line in order,
and each text's answers are regrouped by position into its line with its ``explanation`` (ml/bulk.py), as
the local target writes it. The model's label count comes from its version folder here.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from ml.aws import session
from ml.aws.config import AwsSettings
from ml.aws.resources import find_endpoint_resources
from ml.aws.session import SageMakerError, aws_errors, download, upload_if_changed
from ml.bulk import classify_file, explain_instances, explained_line
from ml.config import log
from ml.fsutil import atomic_path
from ml.lambda_src import contract, tokens_of
from ml.package import MANIFEST
from ml.page import label_count
from ml.records import ClassifyError, InputSpec, Record
from ml.results import Provenance, Summary, publish, result_line
from ml.versions import versions_dir

CONTENT_TYPE = contract.JSONLINES
BATCH_STRATEGY = "MultiRecord"
MAX_PAYLOAD_MB = 6
INPUT_NAME = "input.jsonl"
JOB_PREFIX = "bulk"


def request_body(
    records: list[Record], k: int, explain_words: int = 0
) -> tuple[bytes, list[int], list[list[str]]]:
    """The job's JSON lines input, the indexes of the records it holds (texts with no word left out) and
    each such record's instances: its tokens, or with ``explain_words`` its explanation's instances (the
    caller's ``k`` is then the model's label count)."""
    tokens = [tokens_of(record.text) for record in records]
    sent = [index for index, text in enumerate(tokens) if text]
    groups = [explain_instances(tokens[i], explain_words) if explain_words else [tokens[i]] for i in sent]
    return contract.jsonlines_request([line for group in groups for line in group], k), sent, groups


def deployed_model(client: Any, endpoint: str) -> str:
    """The model the endpoint serves; SageMakerError when there is no such endpoint."""
    resources = find_endpoint_resources(client, endpoint)
    if resources is None or not resources.models:
        raise SageMakerError(
            f"there is no SageMaker endpoint {endpoint!r} with a model: deploy one with "
            "`invoke train --target aws` (or name yours with --endpoint-name)"
        )
    return resources.models[0]


def endpoint_model(settings: AwsSettings) -> str:
    """The SageMaker model ``settings.endpoint_name`` serves (its name holds the archive's sha256 prefix)."""
    with aws_errors():
        client = session.boto_session(settings.region).client("sagemaker")
        return deployed_model(client, settings.endpoint_name)


def job_key(input_sha: str, model: str, settings: AwsSettings) -> str:
    """What a job is made of: input, model and instances."""
    parts = [input_sha, model, settings.transform_instance_type, settings.transform_instance_count]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def job_request(
    name: str, model: str, input_uri: str, output_uri: str, settings: AwsSettings
) -> dict[str, Any]:
    """The CreateTransformJob request."""
    return {
        "TransformJobName": name,
        "ModelName": model,
        "BatchStrategy": BATCH_STRATEGY,
        "MaxPayloadInMB": MAX_PAYLOAD_MB,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": CONTENT_TYPE,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {"S3OutputPath": output_uri, "Accept": CONTENT_TYPE, "AssembleWith": "Line"},
        "TransformResources": {
            "InstanceType": settings.transform_instance_type,
            "InstanceCount": settings.transform_instance_count,
        },
    }


def jobs_named(client: Any, key: str) -> list[dict[str, Any]]:
    """Summaries of the transform jobs whose name holds ``key``, newest first."""
    summaries: list[dict[str, Any]] = []
    for page in client.get_paginator("list_transform_jobs").paginate(NameContains=key):
        summaries += page["TransformJobSummaries"]
    return sorted(summaries, key=lambda s: s["CreationTime"], reverse=True)


def wait(client: Any, name: str, poll_seconds: float = 30.0, max_hours: int = 6) -> dict[str, Any]:
    """Wait for the job to end and return its description; SageMakerError unless it Completed."""
    attempts = max(1, int(max_hours * 3600 / max(poll_seconds, 1)))
    with suppress(WaiterError):  # the description below says how it ended
        client.get_waiter("transform_job_completed_or_stopped").wait(
            TransformJobName=name, WaiterConfig={"Delay": poll_seconds, "MaxAttempts": attempts}
        )
    job = client.describe_transform_job(TransformJobName=name)
    if job["TransformJobStatus"] != "Completed":
        raise SageMakerError(
            f"transform job {name} ended {job['TransformJobStatus']}: "
            f"{job.get('FailureReason') or 'no reason given'}; its logs are in CloudWatch, "
            "/aws/sagemaker/TransformJobs"
        )
    return job


def run_job(
    client: Any, settings: AwsSettings, key: str, model: str, input_uri: str, output_root: str
) -> str:
    """Reuse a Completed job with this key, wait for a running one, or start one; return its output prefix."""
    jobs = jobs_named(client, key)
    found = next((j for j in jobs if j["TransformJobStatus"] in ("Completed", "InProgress")), None)
    if found is None:
        name = f"{JOB_PREFIX}-{key}-{len(jobs) + 1}"  # a name is used once, even by a failed job
        client.create_transform_job(**job_request(name, model, input_uri, f"{output_root}{name}/", settings))
        log.info(
            "started transform job %s: %d × %s on model %s",
            name,
            settings.transform_instance_count,
            settings.transform_instance_type,
            model,
        )
    else:
        name = found["TransformJobName"]
        log.info("transform job %s has the same input and model (%s)", name, found["TransformJobStatus"])
    job = wait(client, name)
    return str(job["TransformOutput"]["S3OutputPath"]).rstrip("/") + "/"


def join_output(
    records: list[Record],
    sent: list[int],
    out_file: Path,
    groups: list[list[str]] | None = None,
    explained_k: int = 0,
) -> list[dict[str, Any]]:
    """One output line per record: the job's predictions joined back to the ids by position; with
    ``groups`` (each sent record's instances) and ``explained_k``, each record's answers regrouped into its
    explained line with the top ``explained_k`` labels."""
    groups = groups or [[""] for _ in sent]
    try:
        predictions = contract.read_json_lines(out_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SageMakerError(f"the transform output {out_file} is not JSON lines ({exc})") from None
    expected = sum(len(group) for group in groups)
    if len(predictions) != expected:
        what = f"{expected} instances of {len(sent)} texts" if expected != len(sent) else f"{expected} texts"
        raise SageMakerError(f"the transform output {out_file} has {len(predictions)} lines for {what}")
    by_index, lines, start = dict(zip(sent, groups, strict=True)), [], 0
    try:
        for index, record in enumerate(records):
            group = by_index.get(index)
            if group is None:
                lines.append(result_line(record.id, None))
                continue
            answers, start = predictions[start : start + len(group)], start + len(group)
            if explained_k:
                lines.append(explained_line(record.id, group[0], answers, explained_k))
            else:
                lines.append(result_line(record.id, answers[0]))
    except ClassifyError as exc:
        raise SageMakerError(
            f"the transform output {out_file} is not BlazingText's answer format ({exc})"
        ) from None
    return lines


def bucket_name(session: Any, settings: AwsSettings) -> str:
    """``settings.bucket``, else the default ``sagemaker-<region>-<account>`` that training created."""
    if settings.bucket:
        return settings.bucket
    account = session.client("sts").get_caller_identity()["Account"]
    return f"sagemaker-{settings.region}-{account}"


def transform(
    settings: AwsSettings, records: list[Record], model: str, explain_words: int = 0, n_labels: int = 0
) -> list[dict[str, Any]]:
    """Classify ``records`` with a Batch Transform job on ``model``; one output line per record.

    ``model`` is :func:`endpoint_model`'s answer, the one the caller records as the output's maker. With
    ``explain_words`` each line is explained too; ``n_labels`` is then the model's label count.

    Raises:
        SageMakerError: an AWS call refused, the job failed, or its output does not fit.
    """
    k = n_labels if explain_words else settings.top_k
    body, sent, groups = request_body(records, k, explain_words)
    if not sent:
        return [result_line(record.id, None) for record in records]
    input_sha = hashlib.sha256(body).hexdigest()
    local = settings.build_dir / "transform" / input_sha[:16]
    with atomic_path(local / INPUT_NAME) as tmp:
        tmp.write_bytes(body)
    with aws_errors():
        boto = session.boto_session(settings.region)
        sagemaker, s3 = boto.client("sagemaker"), boto.client("s3")
        bucket = bucket_name(boto, settings)
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            raise SageMakerError(
                f"bucket {bucket} is missing or not yours: pass --bucket, or run `invoke train --target aws`"
            ) from None
        root = "/".join([f"s3://{bucket}", settings.s3_prefix.strip("/"), "transform", input_sha[:16]])
        upload_if_changed(s3, local / INPUT_NAME, f"{root}/input/{INPUT_NAME}")
        key = job_key(input_sha, model, settings)
        output = run_job(sagemaker, settings, key, model, f"{root}/input/", f"{root}/output/")
        out_file = download(s3, output + INPUT_NAME + ".out", local / f"{key}.out")
    return join_output(records, sent, out_file, groups, settings.top_k if explain_words else 0)


def model_labels(settings: AwsSettings, model: str) -> int:
    """How many labels ``model`` (``<endpoint>-<version id>``) has, from its version folder here;
    ClassifyError when that folder is not here (``--explain`` asks every label of each instance)."""
    folder = versions_dir(settings) / model.rsplit("-", 1)[-1]
    if not (folder / MANIFEST).is_file():
        raise ClassifyError(
            f"--explain needs the labels of the endpoint's model {model}: its version is not in "
            f"{versions_dir(settings)} (train it here, or explain on the machine that trained it)"
        )
    return label_count(folder)


def classify(
    settings: AwsSettings,
    source: Path,
    output: Path,
    spec: InputSpec,
    force: bool = False,
    explain_words: int = 0,
) -> Summary:
    """Classify every text of ``source`` into ``output`` with a Batch Transform job (ml/bulk.py says how);
    ``explain_words`` (> 0): with the words behind each answer, at most that many of each text's first.

    Raises:
        ClassifyError: unreadable input, an output that is refused, or ``explain_words`` without the
            endpoint model's version here, or a ``k`` above its labels.
        SageMakerError: an AWS call or the transform job failed.
    """

    def answer(records: list[Record], provenance: Provenance) -> tuple[int, int]:
        n_labels = model_labels(settings, provenance.model) if explain_words else 0
        if explain_words and settings.top_k > n_labels:
            raise ClassifyError(f"-k {settings.top_k}: must be at most {n_labels}, the model's labels")
        publish(output, provenance, transform(settings, records, provenance.model, explain_words, n_labels))
        return len(records), 0

    return classify_file(
        source,
        output,
        spec,
        settings.top_k,
        lambda: endpoint_model(settings),
        answer,
        force,
        explain_words,
    )
