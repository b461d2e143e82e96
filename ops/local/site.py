"""The local edge: ``site/``, ``POST /classify`` and ``POST /feedback`` on one origin, as CloudFront serves
them in AWS.

Static files come from ``site/``, with ``config.js`` rendered from the same template Terraform renders and
``model-card.html`` the live version's model card (``ml/model_card.py``), as Terraform uploads it;
``/classify`` is forwarded to the local API (every header but Host, as CloudFront's origin request policy
does), so the page calls its own origin and needs no CORS. Every answer carries the security headers of
``terraform/security-headers.json``, the definition CloudFront's response headers policy is made from.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from functools import cache, partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from string import Template
from typing import Any

from ml.config import ROOT, log
from ml.lambda_src import contract
from ops.local.api import MAX_BODY_BYTES
from ops.local.http import IDLE_TIMEOUT_SECONDS, BackgroundServer, StdlibHandler
from ops.settings import SITE_DIR

CONFIG_TEMPLATE = "config.js.tftpl"
SECURITY_HEADERS = ROOT / "terraform" / "security-headers.json"
API_PATH = contract.ROUTE[1]
API_PATHS = (API_PATH, contract.FEEDBACK_ROUTE[1])  # forwarded to the API, as CloudFront's behaviours do
MODEL_CARD_PATH = "/model-card.html"  # the live version's card: "About this model" (terraform/site.tf)
ORIGIN_READ_TIMEOUT_SECONDS = 30.0  # CloudFront's default origin read timeout
# What CloudFront answers when its origin cannot be reached: an HTML error page, not the API's JSON.
BAD_GATEWAY = (
    {"Content-Type": "text/html; charset=utf-8"},
    b"<html><body><h1>502 ERROR</h1><p>The request could not be satisfied.</p></body></html>",
)
_NOT_FORWARDED = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
_NOT_RELAYED = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


def render_config(
    api_url: str,
    max_text_chars: int,
    page: dict[str, Any] | None = None,
    site_dir: Path = SITE_DIR,
    feedback: bool = False,
    model_sha256: str = "",
) -> str:
    """``config.js`` for an API base URL, the Lambda's text limit, the deployed model's page
    (``ml/page.py``; None: no labels yet), whether the page offers feedback and the model's sha256: the
    placeholders Terraform fills.

    An empty ``api_url`` (Terraform's, and the local stack's) makes the page POST to ``/classify`` on its
    own origin.
    """
    template = Template((site_dir / CONFIG_TEMPLATE).read_text(encoding="utf-8"))
    shown = json.dumps(page or {"labels": [], "examples": []})
    return template.substitute(
        api_url=api_url,
        max_text_chars=max_text_chars,
        page=shown,
        feedback=json.dumps(feedback),
        model_sha256=model_sha256,
    )


@cache
def security_headers(path: Path = SECURITY_HEADERS) -> dict[str, str]:
    """The response headers CloudFront's policy sends, from the shared definition."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    hsts = spec["strict_transport_security"]
    headers = {
        "Strict-Transport-Security": f"max-age={hsts['max_age_seconds']}"
        + ("; includeSubDomains" if hsts["include_subdomains"] else "")
        + ("; preload" if hsts["preload"] else ""),
        "Content-Security-Policy": spec["content_security_policy"],
        "X-Frame-Options": spec["frame_options"],
        "Referrer-Policy": spec["referrer_policy"],
    }
    if spec["content_type_options_nosniff"]:
        headers["X-Content-Type-Options"] = "nosniff"
    return headers


class SiteServer(BackgroundServer):
    """Static files from ``site/``; ``/config.js`` generated; the template never served; ``/classify``
    forwarded to ``upstream`` (the local API's base URL; empty: 502, as CloudFront without its origin)."""

    name = "site"

    def __init__(
        self, address: tuple[str, int], site_dir: Path = SITE_DIR, idle_timeout: float = IDLE_TIMEOUT_SECONDS
    ) -> None:
        super().__init__(address, partial(SiteHandler, directory=str(site_dir)), idle_timeout)
        self.site_dir = site_dir
        self.api_url = ""  # what config.js tells the page: empty is its own origin
        self.upstream = ""
        self.max_text_chars = 0  # the Lambda's limit, which the page shows (0: not set up)
        self.page: dict[str, Any] | None = None  # the deployed model's labels as the page shows them
        self.model_card: Path | None = None  # the live version's model_card.html (None: none)
        self.feedback = False  # whether the page offers feedback (the stack has somewhere to keep it)
        self.model_sha256 = ""  # the live model's, which feedback names
        self.origin_headers: dict[str, str] = {}  # added to each forwarded request (CloudFront's origin's)

    def response_headers(self, path: str) -> dict[str, str]:
        """The security headers an answer on ``path`` carries: the shared definition's, on every path."""
        return security_headers()

    def forwarded(self, path: str) -> bool:
        """Whether a request for ``path`` goes to the API, as CloudFront's API behaviours send it."""
        return path.partition("?")[0] in API_PATHS


class SiteHandler(SimpleHTTPRequestHandler, StdlibHandler):
    """The edge's HTTP: static files, ``/config.js``, the model card; API paths forwarded (``_forward``)."""

    server: SiteServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("site %s - %s", self.address_string(), format % args)

    def end_headers(self) -> None:
        if not self._forwarding:
            self.send_header("Cache-Control", "no-cache")
        for name, value in self.server.response_headers(self.path).items():
            self.send_header(name, value)
        super().end_headers()

    _forwarding = False

    def do_GET(self) -> None:
        if self.server.forwarded(self.path):
            self._forward()
        elif self.path.partition("?")[0] == MODEL_CARD_PATH:
            self._model_card()
        elif self.translate_path(self.path) == str(self.server.site_dir / "config.js"):
            server = self.server
            body = render_config(
                server.api_url,
                server.max_text_chars,
                server.page,
                server.site_dir,
                server.feedback,
                server.model_sha256,
            ).encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            super().do_GET()

    def _model_card(self) -> None:
        """The live version's card, as Terraform uploads it; 404 when there is none."""
        card = self.server.model_card
        if card is None or not card.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        body = card.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        if self.server.forwarded(self.path):
            self._forward()
        else:  # the site's behaviour takes GET and HEAD only, as in CloudFront
            self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    do_OPTIONS = do_PUT = do_PATCH = do_DELETE = do_POST

    def send_head(self) -> Any:
        """Open the file for GET and HEAD; a template, however its path is spelled, is not found."""
        if self.translate_path(self.path).endswith(".tftpl"):  # decoded and normalised, as it is opened
            self.send_error(HTTPStatus.NOT_FOUND)
            return None
        return super().send_head()

    def _forward(self) -> None:
        """Send the request on to the API and relay its answer, with the security headers."""
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        body = self.rfile.read(int(length))
        if not self.server.upstream:
            self._relay(HTTPStatus.BAD_GATEWAY, *BAD_GATEWAY)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED}
        headers |= self.server.origin_headers
        request = urllib.request.Request(
            self.server.upstream + self.path, data=body or None, headers=headers, method=self.command
        )
        try:
            with urllib.request.urlopen(request, timeout=ORIGIN_READ_TIMEOUT_SECONDS) as response:
                self._relay(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            self._relay(error.code, dict(error.headers), error.read())
        except (OSError, urllib.error.URLError) as error:
            log.warning("site: the API at %s did not answer: %s", self.server.upstream, error)
            self._relay(HTTPStatus.BAD_GATEWAY, *BAD_GATEWAY)

    def _relay(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self._forwarding = True
        try:
            self.send_response(status)
            ours = {name.lower() for name in self.server.response_headers(self.path)}
            for name, value in headers.items():
                if name.lower() not in _NOT_RELAYED | ours:  # the policy's headers override the origin's
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            self._forwarding = False
