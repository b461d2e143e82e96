"""A local endpoint that speaks SageMaker's protocols, so the same client code runs locally and in AWS.

Routes (threaded server on 127.0.0.1, HTTP/1.1 keep-alive):
- ``GET /ping`` and ``POST /invocations``: the hosting contract a SageMaker container serves;
- ``POST /endpoints/<name>/invocations``: the SageMaker runtime API ``InvokeEndpoint``, so
  ``boto3.client("sagemaker-runtime", endpoint_url=...)`` works unchanged. Model errors come back as
  the runtime's ``ModelError`` (HTTP 424) with the container's status and message, as in AWS.

Requests are BlazingText's, in both of the container's formats, ``application/json`` and
``application/jsonlines`` (what Batch Transform sends), read and answered as the wire contract
(``lambda/contract.py``) defines them; this module adds the container's limits and HTTP statuses.

fastText's predict holds Python's GIL, so one process predicts on one core at a time. ``workers`` > 1
serves in that many processes on one port (``ops/local/http.py``), each extra one loading the model.
``swap`` changes the model in every process without a restart: each loads the new one beside the old and
switches between two requests (docs/rollout.md).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from http import HTTPStatus
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from ml.config import LOCAL_ACCOUNT_ID, log
from ml.lambda_src import contract
from ml.predict import Predictor
from ops.local.http import (
    IDLE_TIMEOUT_SECONDS,
    WORKER_START_SECONDS,
    BackgroundServer,
    LeanHandler,
    WorkerError,
    WorkerTarget,
    serve_worker,
)

MAX_BODY_BYTES = contract.MAX_REQUEST_BYTES  # SageMaker's real-time payload limit (the wire contract's)
MAX_INSTANCES = contract.MAX_INSTANCES
_RUNTIME_PATH = re.compile(r"^/endpoints/([A-Za-z0-9-]{1,63})/invocations$")
Response = tuple[int, str, Mapping[str, str], bytes]
MODEL_HEADER = "X-Model-Sha256"  # GET /ping names the sha256 of the model.tar.gz being served


class RequestError(Exception):
    """A request the container refuses, with the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_request(body: bytes, content_type: str, n_labels: int) -> tuple[list[str], int]:
    """Validate a BlazingText JSON request; return (instances, k) or raise RequestError."""
    if media_type(content_type) != contract.JSON:
        raise RequestError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"content type {content_type or '(none)'!r} is not supported; "
            f"use {contract.JSON} or {contract.JSONLINES}",
        )
    try:
        return contract.parse_json_request(body, n_labels, MAX_INSTANCES)
    except ValueError as exc:
        raise RequestError(HTTPStatus.BAD_REQUEST, str(exc)) from None


def media_type(header: str) -> str:
    """The media type of a Content-Type or Accept header, lower-cased, without parameters."""
    return header.split(";", 1)[0].strip().lower()


def parse_jsonlines_request(body: bytes, accept: str, n_labels: int) -> list[tuple[str, int]]:
    """Validate a BlazingText JSON Lines request; return (source, k) per line or raise RequestError.

    The answer is JSON Lines too: an ``Accept`` naming another type is refused (406).
    """
    jsonlines = contract.JSONLINES
    if media_type(accept) not in ("", "*/*", jsonlines):
        raise RequestError(
            HTTPStatus.NOT_ACCEPTABLE, f"a {jsonlines} request is answered in {jsonlines}, not {accept!r}"
        )
    try:
        return contract.parse_jsonlines_request(body, n_labels, MAX_INSTANCES)
    except ValueError as exc:
        raise RequestError(HTTPStatus.BAD_REQUEST, str(exc)) from None


def predict_lines(predictor: Predictor, requests: list[tuple[str, int]]) -> list[dict[str, list[Any]]]:
    """One prediction per (source, k), in order: one predict call for each distinct ``k``."""
    answers: list[dict[str, list[Any]]] = [{} for _ in requests]
    for k in sorted({k for _, k in requests}):
        indexes = [i for i, (_, wanted) in enumerate(requests) if wanted == k]
        for i, answer in zip(indexes, predictor.predict([requests[i][0] for i in indexes], k), strict=True):
            answers[i] = {"prob": answer["prob"], "label": answer["label"]}
    return answers


class EndpointServer(BackgroundServer):
    """Serves one model under one endpoint name, in ``workers`` processes sharing the port."""

    workers_flag = "--endpoint-workers"

    def __init__(
        self,
        address: tuple[str, int],
        predictor: Predictor | None,
        endpoint_name: str,
        workers: int = 1,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        joining: bool = False,
    ) -> None:
        super().__init__(address, _Handler, idle_timeout, workers, joining)
        self.predictor = predictor
        self.endpoint_name = endpoint_name
        self.name = f"local endpoint {endpoint_name!r}"

    def start(self) -> None:
        """Start the extra worker processes (each with the model loaded), then serve here too."""
        if self.workers > 1 and self.predictor is None:
            raise ValueError("endpoint workers need a loaded model")
        super().start()

    def worker_target(self) -> WorkerTarget:
        assert self.predictor is not None
        return _worker_main, (
            (str(self.predictor.model_bin), self.predictor.archive_sha256),
            self.endpoint_name,
        )

    def swap(self, predictor: Predictor) -> None:
        """Serve ``predictor`` from now on in every process, without a restart or a failed request.

        Each worker loads it and switches; a request in flight finishes on the model it started with.
        Returns once every process serves it. WorkerError when a worker cannot load it (the processes
        that switched keep the new model; the old one goes on in this process and the rest).
        """
        with self._lock:
            for child in self._children:
                control = self._controls[child]
                try:
                    control.send((str(predictor.model_bin), predictor.archive_sha256))
                    answer = control.recv() if control.poll(WORKER_START_SECONDS) else "no answer"
                except (OSError, EOFError):  # it died: the watcher replaces it, with the model set below
                    continue
                if answer is not True:
                    raise WorkerError(
                        f"endpoint worker {child.pid} could not load {predictor.model_bin}: {answer}"
                    )
            self.predictor = predictor
        log.info("%s now serves %s", self.name, predictor.archive_sha256[:16] or predictor.model_bin)


def _worker_main(
    model: tuple[str, str],
    endpoint_name: str,
    host: str,
    port: int,
    workers: int,
    ready: Event,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    control: Connection | None = None,
) -> None:
    """An extra worker process: load the model (model.bin, archive sha256), join the port, serve until the
    parent stops or dies; switch to each model the parent sends on ``control``."""

    def build() -> EndpointServer:
        predictor = Predictor(Path(model[0]), model[1])
        server = EndpointServer((host, port), predictor, endpoint_name, workers, idle_timeout, joining=True)
        if control is not None:
            threading.Thread(target=_follow_swaps, args=(server, control), daemon=True).start()
        return server

    serve_worker(build, ready)


def _follow_swaps(server: EndpointServer, control: Connection) -> None:
    """In a worker: load each (model.bin, sha256) the parent sends, switch to it, answer True or why not."""
    while True:
        try:
            model_bin, sha256 = control.recv()
        except (EOFError, OSError):
            return
        try:
            server.predictor = Predictor(Path(model_bin), sha256)
        except (ValueError, OSError) as exc:
            control.send(str(exc))
        else:
            control.send(True)


class _Handler(LeanHandler):
    server: EndpointServer
    max_body_bytes = MAX_BODY_BYTES

    def respond(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        if method == "GET" and path == "/ping":
            predictor = self.server.predictor
            if predictor is None:
                return HTTPStatus.SERVICE_UNAVAILABLE, "text/plain", {}, b""
            # which model answers (the container contract asks only for a 200): bulk runs record it
            return HTTPStatus.OK, "text/plain", {MODEL_HEADER: predictor.archive_sha256}, b""
        if method not in ("GET", "POST"):
            return _json(HTTPStatus.METHOD_NOT_ALLOWED, {"message": f"use GET /ping or POST, not {method}"})
        if method == "GET":
            return _json(HTTPStatus.NOT_FOUND, {"message": f"no route GET {path}"})
        if path == "/invocations":
            status, media, answer = self._invoke(headers, body)
            return status, media, {}, answer
        match = _RUNTIME_PATH.match(path.split("?", 1)[0])
        if not match:
            return _json(HTTPStatus.NOT_FOUND, {"message": f"no route POST {path}"})
        if match.group(1) != self.server.endpoint_name:
            message = f"Endpoint {match.group(1)} of account {LOCAL_ACCOUNT_ID} not found."
            return _json(
                HTTPStatus.BAD_REQUEST, {"message": message}, {"x-amzn-ErrorType": "ValidationError:"}
            )
        status, media, answer = self._invoke(headers, body)
        if status == HTTPStatus.OK:
            return status, media, {"x-Amzn-Invoked-Production-Variant": "AllTraffic"}, answer
        original = json.loads(answer)["message"]
        side = "client" if status < 500 else "server"
        error = {
            "ErrorCode": f"{side.upper()}_ERROR_FROM_MODEL",
            "OriginalStatusCode": int(status),
            "OriginalMessage": original,
            "message": f'Received {side} error ({int(status)}) from primary with message "{original}".',
        }
        return _json(424, error, {"x-amzn-ErrorType": "ModelError:"})

    def _invoke(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str, bytes]:
        """Run the container contract; return (status, media type, body)."""
        predictor = self.server.predictor
        try:
            if predictor is None:
                raise RequestError(HTTPStatus.SERVICE_UNAVAILABLE, "model is not loaded")
            content_type = headers.get("content-type", "")
            if media_type(content_type) == contract.JSONLINES:
                lines = parse_jsonlines_request(body, headers.get("accept", ""), len(predictor.labels))
                answer = contract.dump_json_lines(predict_lines(predictor, lines)).encode()
                return HTTPStatus.OK, contract.JSONLINES, answer
            instances, k = parse_request(body, content_type, len(predictor.labels))
            return HTTPStatus.OK, contract.JSON, json.dumps(predictor.predict(instances, k)).encode()
        except RequestError as exc:
            return exc.status, "application/json", json.dumps({"message": str(exc)}).encode()


def _json(status: int, data: object, headers: Mapping[str, str] | None = None) -> Response:
    return status, "application/json", headers or {}, json.dumps(data).encode()


def start_endpoint(
    predictor: Predictor, endpoint_name: str, host: str = "127.0.0.1", port: int = 0, workers: int = 1
) -> EndpointServer:
    """Bind and start an endpoint server on a background thread (port 0 picks a free port)."""
    server = EndpointServer((host, port), predictor, endpoint_name, workers)
    server.start()
    return server
