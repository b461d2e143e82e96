"""What moto_server lacks, filled in in front of it: Application Auto Scaling's tag operations,
and CloudFront's response headers policies and distribution configs (:class:`CloudFrontGapProxy`).

moto 5.2 emulates scalable targets and scaling policies, but answers ``ListTagsForResource``,
``TagResource`` and ``UntagResource`` of Application Auto Scaling with a 500 (not implemented). The Terraform
AWS provider calls ``ListTagsForResource`` after every read of an ``aws_appautoscaling_target`` and retries a
500 for minutes. For the local target only, the provider's ``appautoscaling`` endpoint is this proxy: it
answers those three operations from memory (tags sent with ``RegisterScalableTarget`` included) and forwards
every other request to moto unchanged, so the targets and policies themselves are moto's.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from xml.etree import ElementTree

_PREFIX = "AnyScaleFrontendService."  # X-Amz-Target of Application Auto Scaling (JSON 1.1)
# Host goes on as the client sent it: it is part of the SigV4 signature moto checks when IAM is enforced.
_SKIP_HEADERS = {"content-length", "connection", "accept-encoding"}
_HOP_HEADERS = {"content-length", "connection", "transfer-encoding", "server", "date"}
Reply = tuple[int, dict[str, str], bytes]


class _LoopbackProxy:
    """A loopback HTTP server in front of ``upstream`` (a moto_server URL), served on a thread.

    Use it as a context manager; :attr:`url` is the endpoint to give the AWS provider. Subclasses give the
    request handler (:meth:`_handler`) and answer what moto lacks; :meth:`_forward` sends the rest to moto.
    """

    def __init__(self, upstream: str, host: str, thread_name: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=thread_name, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the proxy, e.g. ``http://127.0.0.1:50124``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Send a request on to moto; its reply, an HTTP error included."""
        forwarded = urllib.request.Request(
            f"{self.upstream}{path}", data=body or None, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(forwarded, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    """Write ``reply`` to the client, without moto's hop-by-hop headers (the length is the body's)."""
    status, headers, body = reply
    handler.send_response(status)
    for name, value in headers.items():
        if name.lower() not in _HOP_HEADERS:
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class AppAutoScalingTagProxy(_LoopbackProxy):
    """A loopback proxy to ``upstream`` (a moto_server URL) that keeps Application Auto Scaling's tags."""

    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        self.tags: dict[str, dict[str, str]] = {}  # scalable target ARN -> tags
        super().__init__(upstream, host, "aas-tag-proxy")

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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = self.headers.get("X-Amz-Target", "").removeprefix(_PREFIX)
                request = json.loads(body or b"{}")
                reply = proxy.answer(operation, request)
                if reply is not None:
                    _send(
                        self,
                        (200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(reply).encode()),
                    )
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _SKIP_HEADERS}
                status, reply_headers, reply_body = proxy._forward("POST", self.path, headers, body)
                if status == 200:
                    proxy.remember(operation, request, json.loads(reply_body or b"{}"))
                _send(self, (status, reply_headers, reply_body))

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: moto keeps its own log of the requests."""

        return Handler


# --- CloudFront ----------------------------------------------------------------------------------

_CF_NS = "http://cloudfront.amazonaws.com/doc/2020-05-31/"
_CF_API = "/2020-05-31/"
_POLICY_PATH = re.compile(r"^/2020-05-31/response-headers-policy(?:/([^/?]+))?(/config)?$")
_DISTRIBUTION_PATH = re.compile(r"^/2020-05-31/distribution(?:/([^/?]+))?(/config)?$")
_DISTRIBUTION_CONFIG = re.compile(
    rb"(<DistributionConfig(?:\s[^>]*)?>)(.*)(</DistributionConfig>)", re.DOTALL
)
_POLICY_CONFIG = re.compile(
    rb"<ResponseHeadersPolicyConfig(?:\s[^>]*)?>(.*)</ResponseHeadersPolicyConfig>", re.DOTALL
)


class CloudFrontGapProxy(_LoopbackProxy):
    """A loopback HTTP proxy to ``upstream`` (a moto_server URL) for CloudFront's REST-XML API.

    Two gaps of moto 5.2 are answered here, for the local target only (docs/edge.md):

    - moto has no response-headers-policy API (404 with an HTML page): create, get, get-config, update and
      delete of ``/2020-05-31/response-headers-policy`` are answered from memory, keeping the config as sent;
    - moto answers a distribution's config in its own shape (legacy ``ForwardedValues`` beside a
      ``CachePolicyId``, origins without their ``OriginAccessControlId``), so Terraform would plan an
      update forever. The distribution itself is moto's (ids, ARN, domain, status, ETags); in the
      ``DistributionConfig`` of moto's replies each element the client last sent replaces moto's
      (moto's own, such as ``OriginGroups``, stay), as AWS returns the config it was given.

    Every other request goes to moto unchanged. Use it as a context manager; :attr:`url` is the endpoint.
    """

    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        self.policies: dict[str, tuple[bytes, str]] = {}  # id -> (config's inner XML, ETag)
        self.configs: dict[str, bytes] = {}  # distribution id -> the DistributionConfig inner XML last sent
        super().__init__(upstream, host, "cf-gap-proxy")

    def policy(self, method: str, policy_id: str | None, config_only: bool, body: bytes) -> Reply:
        """Answer a response-headers-policy request: (status, headers, body)."""
        with self._lock:
            if method == "POST" and policy_id is None:
                policy_id, etag = uuid.uuid4().hex[:14].upper(), uuid.uuid4().hex[:14].upper()
                self.policies[policy_id] = (_inner(_POLICY_CONFIG, body), etag)
                status, extra = (
                    201,
                    {
                        "Location": f"https://cloudfront.amazonaws.com{_CF_API}response-headers-policy/{policy_id}"
                    },
                )
            elif policy_id in self.policies and method == "PUT":
                etag = uuid.uuid4().hex[:14].upper()
                self.policies[policy_id] = (_inner(_POLICY_CONFIG, body), etag)
                status, extra = 200, {}
            elif policy_id in self.policies and method == "DELETE":
                del self.policies[policy_id]
                return 204, {}, b""
            elif policy_id in self.policies and method == "GET":
                status, extra = 200, {}
            else:
                return _cf_error(
                    404, "NoSuchResponseHeadersPolicy", "The response headers policy does not exist."
                )
            config, etag = self.policies[policy_id]
        wrapped = b"<ResponseHeadersPolicyConfig>" + config + b"</ResponseHeadersPolicyConfig>"
        if config_only:
            xml = (
                f'<ResponseHeadersPolicyConfig xmlns="{_CF_NS}">'.encode()
                + config
                + b"</ResponseHeadersPolicyConfig>"
            )
        else:
            xml = (
                (
                    f'<ResponseHeadersPolicy xmlns="{_CF_NS}"><Id>{policy_id}</Id>'
                    "<LastModifiedTime>2026-01-01T00:00:00Z</LastModifiedTime>"
                ).encode()
                + wrapped
                + b"</ResponseHeadersPolicy>"
            )
        headers = {"Content-Type": "text/xml", "ETag": etag, **extra}
        return status, headers, b'<?xml version="1.0"?>\n' + xml

    def distribution(self, method: str, distribution_id: str | None, request: bytes, reply: Reply) -> Reply:
        """moto's reply to a distribution request, with the config the client last sent put back in it."""
        status, headers, body = reply
        if status >= 300:
            return reply
        sent = _DISTRIBUTION_CONFIG.search(request) if method in ("POST", "PUT") else None
        if distribution_id is None and sent:  # a create: moto's reply names the new id
            match = re.search(rb"<Id>([^<]+)</Id>", body)
            distribution_id = match.group(1).decode() if match else None
        with self._lock:
            if distribution_id is not None and sent:
                self.configs[distribution_id] = sent.group(0)
            if method == "DELETE" and distribution_id is not None:
                self.configs.pop(distribution_id, None)
            config = self.configs.get(distribution_id or "")
        if config is None:
            return reply
        merged = _DISTRIBUTION_CONFIG.sub(lambda m: _overlay(m.group(0), config), body, count=1)
        return status, headers, merged

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.partition("?")[0]
                if policy := _POLICY_PATH.match(path):
                    reply = proxy.policy(self.command, policy.group(1), bool(policy.group(2)), body)
                else:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _SKIP_HEADERS}
                    reply = proxy._forward(self.command, self.path, headers, body)
                    if distribution := _DISTRIBUTION_PATH.match(path):
                        reply = proxy.distribution(self.command, distribution.group(1), body, reply)
                _send(self, reply)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: moto keeps its own log of the requests."""

        return Handler


def _inner(pattern: re.Pattern[bytes], body: bytes, group: int = 1) -> bytes:
    """The content of the element ``pattern`` matches in ``body`` (empty when there is none)."""
    match = pattern.search(body)
    return match.group(group) if match else b""


def _overlay(base: bytes, sent: bytes) -> bytes:
    """``base``'s DistributionConfig element with each top-level child of ``sent`` put in place of its own."""
    ElementTree.register_namespace("", _CF_NS)
    config = ElementTree.fromstring(_with_ns(base))
    for child in ElementTree.fromstring(_with_ns(sent)):
        old = config.find(child.tag)
        if old is None:
            config.append(child)
        else:
            config[list(config).index(old)] = child
    return ElementTree.tostring(config)


def _with_ns(element: bytes) -> bytes:
    """A DistributionConfig element in CloudFront's namespace (an inner one has no xmlns of its own)."""
    return (
        element
        if b"xmlns=" in element.split(b">", 1)[0]
        else element.replace(b"<DistributionConfig", f'<DistributionConfig xmlns="{_CF_NS}"'.encode(), 1)
    )


def _cf_error(status: int, code: str, message: str) -> Reply:
    """CloudFront's REST-XML error document."""
    xml = (
        f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{_CF_NS}"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>local</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml"}, xml.encode()
