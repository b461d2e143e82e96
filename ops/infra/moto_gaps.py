"""What moto_server lacks for the stack, filled in in front of it: Application Auto Scaling's tag operations.

moto 5.2 emulates scalable targets and scaling policies, but answers ``ListTagsForResource``,
``TagResource`` and ``UntagResource`` of Application Auto Scaling with a 500 (not implemented). The Terraform
AWS provider calls ``ListTagsForResource`` after every read of an ``aws_appautoscaling_target`` and retries a
500 for minutes. For the local target only, the provider's ``appautoscaling`` endpoint is this proxy: it
answers those three operations from memory (tags sent with ``RegisterScalableTarget`` included) and forwards
every other request to moto unchanged, so the targets and policies themselves are moto's.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

_PREFIX = "AnyScaleFrontendService."  # X-Amz-Target of Application Auto Scaling (JSON 1.1)
_SKIP_HEADERS = {"host", "content-length", "connection", "accept-encoding"}


class AppAutoScalingTagProxy:
    """A loopback HTTP proxy to ``upstream`` (a moto_server URL) that keeps Application Auto Scaling's tags.

    Use it as a context manager; :attr:`url` is the endpoint to give the AWS provider.
    """

    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        self.upstream = upstream.rstrip("/")
        self.tags: dict[str, dict[str, str]] = {}  # scalable target ARN -> tags
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="aas-tag-proxy", daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the proxy, e.g. ``http://127.0.0.1:50124``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> AppAutoScalingTagProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """The reply to a tag operation, or None when the request is for moto."""
        arn = str(request.get("ResourceARN", ""))
        with self._lock:
            if operation == "ListTagsForResource":
                return {"Tags": dict(self.tags.get(arn, {}))}
            if operation == "TagResource":
                self.tags.setdefault(arn, {}).update(request.get("Tags") or {})
                return {}
            if operation == "UntagResource":
                for key in request.get("TagKeys") or []:
                    self.tags.get(arn, {}).pop(key, None)
                return {}
        return None

    def remember(self, operation: str, request: dict[str, Any], reply: dict[str, Any]) -> None:
        """Keep the tags a successful ``RegisterScalableTarget`` carried (moto drops them)."""
        if operation == "RegisterScalableTarget" and "Tags" in request and "ScalableTargetARN" in reply:
            with self._lock:
                self.tags[reply["ScalableTargetARN"]] = dict(request["Tags"])

    def _forward(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        forwarded = urllib.request.Request(
            f"{self.upstream}{path}", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(forwarded, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = self.headers.get("X-Amz-Target", "").removeprefix(_PREFIX)
                request = json.loads(body or b"{}")
                reply = proxy.answer(operation, request)
                if reply is not None:
                    self._send(
                        200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(reply).encode()
                    )
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _SKIP_HEADERS}
                status, reply_headers, reply_body = proxy._forward(self.path, headers, body)
                if status == 200:
                    proxy.remember(operation, request, json.loads(reply_body or b"{}"))
                self._send(status, reply_headers, reply_body)

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in (
                        "content-length",
                        "connection",
                        "transfer-encoding",
                        "server",
                        "date",
                    ):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: moto keeps its own log of the requests."""

        return Handler
