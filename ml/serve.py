"""A local endpoint that speaks SageMaker's protocols, so the same client code runs locally and in AWS.

Routes (stdlib ``ThreadingHTTPServer`` on 127.0.0.1):
- ``GET /ping`` and ``POST /invocations``: the hosting contract a SageMaker container serves;
- ``POST /endpoints/<name>/invocations``: the SageMaker runtime API ``InvokeEndpoint``, so
  ``boto3.client("sagemaker-runtime", endpoint_url=...)`` works unchanged. Model errors come back as
  the runtime's ``ModelError`` (HTTP 424) with the container's status and message, as in AWS.

Requests are BlazingText's: ``{"instances": ["tok tok …", …], "configuration": {"k": N}}``; responses
``[{"label": ["__label__X", …], "prob": [p, …]}, …]``.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from ml.config import LOCAL_ACCOUNT_ID, log
from ml.http_server import BackgroundServer
from ml.predict import Predictor

MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker's real-time payload limit
MAX_INSTANCES = 1000
JSON_TYPES = ("application/json",)
_RUNTIME_PATH = re.compile(r"^/endpoints/([A-Za-z0-9-]{1,63})/invocations$")


class RequestError(Exception):
    """A request the container refuses, with the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_request(body: bytes, content_type: str, n_labels: int) -> tuple[list[str], int]:
    """Validate a BlazingText JSON request; return (instances, k) or raise RequestError."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES:
        raise RequestError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"content type {content_type or '(none)'!r} is not supported; use application/json",
        )
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"body is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
        raise RequestError(HTTPStatus.BAD_REQUEST, 'body must be {"instances": [string, …]}')
    instances = payload["instances"]
    if not 1 <= len(instances) <= MAX_INSTANCES:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"instances must hold 1 to {MAX_INSTANCES} strings")
    if not all(isinstance(x, str) for x in instances):
        raise RequestError(HTTPStatus.BAD_REQUEST, "every instance must be a string")
    configuration = payload.get("configuration", {})
    k = configuration.get("k", 1) if isinstance(configuration, dict) else None
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= n_labels:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"configuration.k must be an integer in 1..{n_labels}")
    return instances, k


class EndpointServer(BackgroundServer):
    """Serves one model under one endpoint name."""

    def __init__(self, address: tuple[str, int], predictor: Predictor | None, endpoint_name: str) -> None:
        super().__init__(address, _Handler)
        self.predictor = predictor
        self.endpoint_name = endpoint_name
        self.name = f"local endpoint {endpoint_name!r}"


class _Handler(BaseHTTPRequestHandler):
    server: EndpointServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("endpoint %s - %s", self.address_string(), format % args)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers=headers)

    def do_GET(self) -> None:
        if self.path == "/ping":
            loaded = self.server.predictor is not None
            self._send(HTTPStatus.OK if loaded else HTTPStatus.SERVICE_UNAVAILABLE, b"", "text/plain")
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"message": f"no route GET {self.path}"})

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body exceeds {MAX_BODY_BYTES} bytes")
        return self.rfile.read(int(length))

    def _invoke(self) -> tuple[int, bytes]:
        """Run the container contract; return (status, body)."""
        predictor = self.server.predictor
        try:
            body = self._read_body()
            if predictor is None:
                raise RequestError(HTTPStatus.SERVICE_UNAVAILABLE, "model is not loaded")
            instances, k = parse_request(body, self.headers.get("Content-Type", ""), len(predictor.labels))
            return HTTPStatus.OK, json.dumps(predictor.predict(instances, k)).encode()
        except RequestError as exc:
            return exc.status, json.dumps({"message": str(exc)}).encode()

    def do_POST(self) -> None:
        if self.path == "/invocations":
            status, body = self._invoke()
            self._send(status, body)
            return
        match = _RUNTIME_PATH.match(self.path.split("?", 1)[0])
        if not match:
            self._send_json(HTTPStatus.NOT_FOUND, {"message": f"no route POST {self.path}"})
            return
        if match.group(1) != self.server.endpoint_name:
            message = f"Endpoint {match.group(1)} of account {LOCAL_ACCOUNT_ID} not found."
            self._send_json(
                HTTPStatus.BAD_REQUEST, {"message": message}, headers={"x-amzn-ErrorType": "ValidationError:"}
            )
            return
        status, body = self._invoke()
        if status == HTTPStatus.OK:
            self._send(status, body, headers={"x-Amzn-Invoked-Production-Variant": "AllTraffic"})
            return
        original = json.loads(body)["message"]
        side = "client" if status < 500 else "server"
        error = {
            "ErrorCode": f"{side.upper()}_ERROR_FROM_MODEL",
            "OriginalStatusCode": int(status),
            "OriginalMessage": original,
            "message": f'Received {side} error ({int(status)}) from primary with message "{original}".',
        }
        self._send_json(424, error, headers={"x-amzn-ErrorType": "ModelError:"})


def start_endpoint(
    predictor: Predictor, endpoint_name: str, host: str = "127.0.0.1", port: int = 0
) -> EndpointServer:
    """Bind and start an endpoint server on a background thread (port 0 picks a free port)."""
    server = EndpointServer((host, port), predictor, endpoint_name)
    server.start()
    return server
