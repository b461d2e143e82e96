"""A local stand-in for the API Gateway HTTP API: HTTP request → payload 2.0 event → the real handler.

Modelled on SAM CLI's local API (``construct_v2_event_http``): the event carries ``rawPath``,
``rawQueryString``, lower-case headers, ``requestContext.http``, epoch milliseconds and
``isBase64Encoded``; the handler's reply (statusCode, headers, body) is written back as it is.
CORS preflight is answered here from the same allowed-origin list, as API Gateway's CORS
configuration does in AWS. Only ``POST /classify`` and ``POST /feedback`` are routed, like the Terraform
stack.

AWS runs each concurrent request in an execution environment of its own; one process's threads share one
GIL, so the handler's boto3 call (most of a request's CPU) runs on one core at a time. ``workers`` > 1
serves in that many spawned processes on one port (``ops/local/http.py``), each importing the handler in
the environment the parent had when it started them; the parent, which hosts the endpoint and the site,
answers none of them, so a handler never waits for the GIL the endpoint's answers need. The workers' EMF
lines come back to the parent to be counted (ops/local/counters.py).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from ml.config import LOCAL_ACCOUNT_ID, log
from ml.lambda_src import contract
from ops.local.counters import relay, send_to_parent
from ops.local.http import IDLE_TIMEOUT_SECONDS, BackgroundServer, LeanHandler, WorkerTarget, serve_worker

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
LAMBDA_TIMEOUT_SECONDS = 25.0  # terraform's lambda_timeout_seconds default
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
Response = tuple[int, str, Mapping[str, str], bytes]


class LambdaContext:
    """The parts of the Lambda context object the handler reads; time runs out as in the deployed function."""

    def __init__(self, function_name: str, timeout_seconds: float = LAMBDA_TIMEOUT_SECONDS) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.memory_limit_in_mb = 256
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, round((self._deadline - time.monotonic()) * 1000))


def build_event(
    method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """An API Gateway HTTP API payload-2.0 event for a request on the ``POST /classify`` route."""
    path, _, query = target.partition("?")  # an origin-form target: no scheme or authority to split off
    now = datetime.now(UTC)
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode("ascii"), True
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": "local",
            "domainName": lowered.get("host", "localhost"),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if body:
        event["body"] = text
    return event


def deployed_handler(code: Path | None = None) -> Handler:
    """The function Terraform deploys, ``handler.lambda_handler``, imported as the Lambda runtime imports it
    from the zip's root: the one import of the handler outside ``lambda/`` (``.importlinter``).

    ``code``: an unpacked Lambda zip to import it from instead of ``lambda/`` (in a process of its own: the
    Lambda's modules this process imported from ``lambda/`` are forgotten, so the zip's are the ones run).
    The handler initialises on the first call, in this process's environment then (``ops/local/stack.py``
    sets the Lambda's first).
    """
    from ml import lambda_src  # (lambda/ on the import path, as the runtime puts the zip root)

    if code is not None:
        lambda_src.run_code_from(code)

    import handler

    return handler.lambda_handler


class LocalApi(BackgroundServer):
    """Routes ``POST /classify`` to a Lambda handler function, in-process."""

    name = "local API (POST /classify)"
    workers_flag = "--api-workers"
    parent_serves = False  # the parent hosts the endpoint: handlers there would share its GIL

    def __init__(
        self,
        address: tuple[str, int],
        handler: Handler,
        allowed_origins: list[str],
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        workers: int = 1,
        joining: bool = False,
    ) -> None:
        super().__init__(address, _RequestHandler, idle_timeout, workers, joining)
        self.handler = handler
        self.allowed_origins = allowed_origins

    def worker_target(self) -> WorkerTarget:
        return _worker_main, (self.allowed_origins,)

    def follow_worker(self, control: Connection) -> None:
        """Count the worker's EMF lines here: they arrive on its control pipe (ops/local/counters.py)."""
        threading.Thread(target=relay, args=(control,), name=f"{self.name} metrics", daemon=True).start()


def _worker_main(
    allowed_origins: list[str],
    host: str,
    port: int,
    workers: int,
    ready: Event,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    control: Connection | None = None,
) -> None:
    """An extra API process: import the handler (initialised in the environment inherited from the parent),
    send its EMF lines to the parent on ``control``, join the port, serve until the parent stops or dies."""

    def build() -> LocalApi:
        handler = deployed_handler()
        if control is not None:
            send_to_parent(control)
        return LocalApi((host, port), handler, allowed_origins, idle_timeout, workers, joining=True)

    serve_worker(build, ready)


class _RequestHandler(LeanHandler):
    """The API's HTTP: the lean handler the endpoint uses (``ops/local/http.py``), not ``http.server``'s,
    whose header parsing and writes cost a third of a request's CPU besides the handler's boto3 call."""

    server: LocalApi
    max_body_bytes = MAX_BODY_BYTES

    def respond(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        # a body on a route that does not use it closes the connection after the answer, as before
        close = {"Connection": "close"} if body else {}
        if method == "OPTIONS":
            return HTTPStatus.NO_CONTENT, "application/json", {**self._preflight(headers), **close}, b""
        if (method, path.partition("?")[0]) not in (contract.ROUTE, contract.FEEDBACK_ROUTE):
            return HTTPStatus.NOT_FOUND, "application/json", close, _message("Not Found")
        event = build_event(method, path, dict(headers), body, self.client_address[0])
        started = time.perf_counter()
        reply = self.server.handler(event, LambdaContext("local-classifier"))
        log.debug(
            "handler answered %s in %.1f ms", reply.get("statusCode"), (time.perf_counter() - started) * 1e3
        )
        return _reply(reply)

    def _preflight(self, headers: Mapping[str, str]) -> dict[str, str]:
        """CORS preflight headers: the allowed origin's, only ``Vary`` for any other."""
        origin = headers.get("origin", "")
        if origin not in self.server.allowed_origins:
            return {"Vary": "Origin"}
        return {
            "Vary": "Origin",
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "content-type",
            "Access-Control-Max-Age": "300",
        }


def _reply(reply: Any) -> Response:
    """A proxy-integration reply as the HTTP answer; a malformed one is a 502, as in API Gateway."""
    if not isinstance(reply, dict) or not isinstance(reply.get("statusCode"), int):
        log.error("handler reply is not a proxy response: %r", reply)
        return HTTPStatus.BAD_GATEWAY, "application/json", {}, _message("Internal Server Error")
    body = reply.get("body") or ""
    data = base64.b64decode(body) if reply.get("isBase64Encoded") else str(body).encode("utf-8")
    headers = {str(name): str(value) for name, value in (reply.get("headers") or {}).items()}
    content_type = "application/json"
    for name in [n for n in headers if n.lower() == "content-type"]:
        content_type = headers.pop(name)
    return reply["statusCode"], content_type, headers, data


def _message(text: str) -> bytes:
    return json.dumps({"message": text}).encode()
