"""SageMaker as the rehearsal needs it: moto_server's, with what its containers would do done in front.

moto 5.2 accepts training and transform jobs (and checks the caller's IAM rights when enforcement is on) but
runs no container: a training job is Completed at once with no artifact, a transform job writes no output.
It has no ``UpdateEndpoint`` at all. :class:`SageMakerStandIn` is a loopback proxy in front of moto that
forwards every request with its own Host header (signatures stay valid when moto enforces IAM) and, once moto
has accepted a request, does the container's part as the account's service would:

- ``CreateTrainingJob``: the job really trains, on a thread: fastText on the job's own ``train`` and
  ``validation`` channels read from S3, with the job's hyperparameters (BlazingText's names, as
  ``ml/train.py`` maps them), packed as BlazingText packs it, written where SageMaker puts the artifact, with
  BlazingText's accuracy line in the job's log stream. Until it is done the job is InProgress.
- ``CreateTransformJob``: the job's model (its ``model.tar.gz`` from S3) answers each JSON line of the job's
  input, and the ``.out`` objects are written where SageMaker writes them.
- ``UpdateEndpoint``: moto checks the caller's right to the action first (its answer is 'not implemented'
  only for a caller allowed to call it); the endpoint is then moved to the new config (deleted and created
  again with it, as moto has no update), which is what a blue/green update that passed its bake ends in.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from ml.hyperparameters import Hyperparameters
from ml.package import pack
from ml.predict import Predictor
from ml.train import train
from ops.infra.iam_view import Call, call_resource
from ops.infra.moto_gaps import _HOP_HEADERS, Reply, _LoopbackProxy, _send

_SAGEMAKER_TARGET = "SageMaker."  # X-Amz-Target of SageMaker (JSON 1.1)
_TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/")  # the access key id in a SigV4 Authorization header


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class SageMakerStandIn(_LoopbackProxy):
    """A loopback proxy to ``upstream`` (moto_server) for SageMaker that does what its containers would.

    It works as ``clients`` (service name -> a boto3 client straight to moto: the account administrator's,
    standing in for SageMaker's service role) and keeps its files under ``workdir``.
    """

    def __init__(
        self, upstream: str, clients: Callable[[str], Any], workdir: Path, host: str = "127.0.0.1"
    ) -> None:
        self.clients = clients
        self.workdir = workdir
        self.trained: list[str] = []  # names of the jobs it trained
        self.transformed: list[str] = []  # names of the transform jobs it wrote output for
        self.updated: list[str] = []  # "<endpoint> -> <config>" for each update it carried out
        self.running: set[str] = set()
        self.failed: dict[str, str] = {}  # job name -> why
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # (access key id, operation, parameters)
        super().__init__(upstream, host, "sagemaker-stand-in")

    # --- training -------------------------------------------------------------------------------

    def start(self, job_name: str) -> None:
        """Train ``job_name`` on a thread; until it ends the job is InProgress."""
        with self._lock:
            if job_name in self.running or job_name in self.trained:
                return  # a retried CreateTrainingJob: the job is the same
            self.running.add(job_name)
        threading.Thread(target=self._run, args=(job_name,), name=f"train-{job_name}", daemon=True).start()

    def _run(self, job_name: str) -> None:
        try:
            self.train(job_name)
        except Exception as exc:  # any failure is the job's, as SageMaker reports it
            with self._lock:
                self.failed[job_name] = f"AlgorithmError: {exc}"
        finally:
            with self._lock:
                self.running.discard(job_name)

    def train(self, job_name: str) -> None:
        """Train the job ``job_name`` from its channels and put its artifact and log lines in place."""
        sagemaker, s3, logs = (self.clients(name) for name in ("sagemaker", "s3", "logs"))
        job = sagemaker.describe_training_job(TrainingJobName=job_name)
        folder = self.workdir / job_name
        folder.mkdir(parents=True, exist_ok=True)
        channels = {}
        for channel in job["InputDataConfig"]:
            bucket, prefix = _s3_parts(channel["DataSource"]["S3DataSource"]["S3Uri"])
            key = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"][0]["Key"]
            channels[channel["ChannelName"]] = folder / f"{channel['ChannelName']}.txt"
            s3.download_file(bucket, key, str(channels[channel["ChannelName"]]))
        values = {k: v for k, v in job["HyperParameters"].items() if k != "mode"}
        result = train(
            channels["train"], channels["validation"], folder / "model.bin", Hyperparameters(**values), 1, 42
        )
        archive = pack(result.model_path, folder / "model.tar.gz")
        s3.upload_file(str(archive), *_s3_parts(job["ModelArtifacts"]["S3ModelArtifacts"]))
        stream = f"{job_name}/algo-1-0000000000"
        if not logs.describe_log_groups(logGroupNamePrefix=_TRAINING_LOG_GROUP)["logGroups"]:
            logs.create_log_group(logGroupName=_TRAINING_LOG_GROUP)
        logs.create_log_stream(logGroupName=_TRAINING_LOG_GROUP, logStreamName=stream)
        lines = [f"#validation_accuracy: {result.validation_accuracy:.4f}"]
        now = int(time.time() * 1000)
        events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
        logs.put_log_events(logGroupName=_TRAINING_LOG_GROUP, logStreamName=stream, logEvents=events)
        with self._lock:
            self.trained.append(job_name)

    def status(self, job: dict[str, Any]) -> dict[str, Any]:
        """A job (description or summary) with the status of its training here, not moto's."""
        name = job.get("TrainingJobName", "")
        with self._lock:
            if name in self.running:
                return job | {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Training"}
            if name in self.failed:
                return job | {"TrainingJobStatus": "Failed", "FailureReason": self.failed[name]}
        return job

    # --- Batch Transform and endpoint updates ---------------------------------------------------

    def transform(self, job_name: str) -> None:
        """Answer every JSON line of the job's input with its model, into ``<input>.out`` (BlazingText's
        JSON Lines answer: ``{"prob": [...], "label": [...]}`` a line)."""
        sagemaker, s3 = self.clients("sagemaker"), self.clients("s3")
        job = sagemaker.describe_transform_job(TransformJobName=job_name)
        model = sagemaker.describe_model(ModelName=job["ModelName"])["PrimaryContainer"]["ModelDataUrl"]
        folder = self.workdir / job_name
        folder.mkdir(parents=True, exist_ok=True)
        s3.download_file(*_s3_parts(model), str(folder / "model.tar.gz"))
        predictor = Predictor.from_archive(folder / "model.tar.gz", folder / "model")
        bucket, prefix = _s3_parts(job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])
        out_bucket, out_prefix = _s3_parts(job["TransformOutput"]["S3OutputPath"])
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8")
            requests = [json.loads(line) for line in body.split("\n") if line]
            answers = [predictor.predict([r["source"]], r.get("k", 1))[0] for r in requests]
            out = "".join(json.dumps(answer) + "\n" for answer in answers)
            key = out_prefix.rstrip("/") + "/" + item["Key"].rsplit("/", 1)[1] + ".out"
            s3.put_object(Bucket=out_bucket, Key=key.lstrip("/"), Body=out.encode("utf-8"))
        with self._lock:
            self.transformed.append(job_name)

    def update_endpoint(self, request: dict[str, Any]) -> Reply:
        """Move the endpoint to the request's config (moto has no UpdateEndpoint); SageMaker's answer."""
        sagemaker = self.clients("sagemaker")
        name, config = request["EndpointName"], request["EndpointConfigName"]
        sagemaker.describe_endpoint_config(EndpointConfigName=config)  # SageMaker refuses a missing one
        arn = sagemaker.describe_endpoint(EndpointName=name)["EndpointArn"]
        sagemaker.delete_endpoint(EndpointName=name)
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
        with self._lock:
            self.updated.append(f"{name} -> {config}")
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps({"EndpointArn": arn}).encode()

    def calls(self, access_key: str, region: str, account: str) -> list[Call]:
        """The SageMaker calls made with ``access_key``, as IAM actions on the ARNs they name (the policy
        check of ops/infra/iam_view.py: moto checks the actions, not SageMaker's resources)."""
        with self._lock:
            made = [(operation, params) for key, operation, params in self.requests if key == access_key]
        return [
            Call(f"sagemaker:{op}", call_resource("sagemaker", op, params, region, account))
            for op, params in made
        ]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                reply = proxy._forward("POST", self.path, headers, body)
                status, reply_headers, reply_body = reply
                operation = self.headers.get("X-Amz-Target", "").removeprefix(_SAGEMAKER_TARGET)
                key = _CREDENTIAL.search(self.headers.get("Authorization", ""))
                with proxy._lock:
                    proxy.requests.append((key.group(1) if key else "", operation, json.loads(body or b"{}")))
                if status == 200 and operation == "CreateTrainingJob":
                    proxy.start(json.loads(body)["TrainingJobName"])
                elif status == 200 and operation == "CreateTransformJob":
                    proxy.transform(json.loads(body)["TransformJobName"])
                elif operation == "UpdateEndpoint" and b"not authorized" not in reply_body:
                    reply = proxy.update_endpoint(json.loads(body))
                elif status == 200 and operation == "DescribeTrainingJob":
                    reply = status, reply_headers, json.dumps(proxy.status(json.loads(reply_body))).encode()
                elif status == 200 and operation == "ListTrainingJobs":
                    listed = json.loads(reply_body)
                    listed["TrainingJobSummaries"] = [proxy.status(j) for j in listed["TrainingJobSummaries"]]
                    reply = status, reply_headers, json.dumps(listed).encode()
                _send(self, reply)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: moto keeps its own log of the requests."""

        return Handler
