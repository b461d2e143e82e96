"""Small real HTTP servers for the browser tests: a scripted API and the real site pointed at any API."""

from __future__ import annotations

import json
import socket
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ml import page
from ml.config import ROOT
from ops.local.site import SiteServer
from ops.settings import load_settings

HOST = "127.0.0.1"
HOLD_LIMIT_SECONDS = 60  # a held reply is sent anyway after this, so no thread hangs forever


@dataclass
class Reply:
    """What the scripted API answers to ``POST /classify``."""

    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json; charset=utf-8"
    hold: threading.Event | None = None  # when given, the answer waits until the test sets it

    @classmethod
    def json(cls, status: int, data: dict[str, Any], hold: threading.Event | None = None) -> Reply:
        return cls(status, json.dumps(data).encode(), hold=hold)


class ScriptedApi(ThreadingHTTPServer):
    """Answers ``POST /classify`` with ``reply`` (CORS for ``allowed_origin``); records the request bodies."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), _ScriptedHandler)
        self.reply = Reply()
        self.allowed_origin = ""
        self.received: list[Any] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class _ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on ``received`` instead."""

    def _cors(self) -> None:
        origin = self.headers.get("Origin", "")
        if origin and origin == self.server.allowed_origin:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")

    def do_OPTIONS(self) -> None:
        self.send_response(HTTPStatus.NO_CONTENT)
        self._cors()
        self.send_header("Access-Control-Allow-Methods", "POST")
        self.send_header("Access-Control-Allow-Headers", "content-type")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append(json.loads(body or b"null"))
        reply = self.server.reply
        if reply.hold is not None:
            reply.hold.wait(HOLD_LIMIT_SECONDS)
        self.send_response(reply.status)
        self._cors()
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


def dbpedia_page() -> dict[str, Any]:
    """What the page shows of a DBPedia model: the shipped labels.json read for the sample's classes."""
    with tarfile.open(ROOT / "data" / "dbpedia_sample.tar.xz") as archive:
        member = archive.extractfile("dbpedia_csv/classes.txt")
        assert member is not None
        classes = member.read().decode("utf-8").split()
    return page.read_labels_file(page.DBPEDIA_LABELS, classes)


def _stop(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


@contextmanager
def site_for_api(api_url: str) -> Iterator[SiteServer]:
    """The real ``site/`` on a free port as the local edge: ``/classify`` on its origin goes to ``api_url``.

    The text limit is the settings' (``max_text_chars``), as the local stack and Terraform render it; the
    page is DBPedia's (its shipped labels.json).
    """
    site = SiteServer((HOST, 0))
    site.api_url, site.upstream, site.max_text_chars = "", api_url, load_settings().max_text_chars
    site.page = dbpedia_page()
    site.start()
    try:
        yield site
    finally:
        _stop(site)


@contextmanager
def scripted_api() -> Iterator[tuple[ScriptedApi, str]]:
    """A scripted API and the URL of the real page that calls it through its own origin."""
    api = ScriptedApi()
    threading.Thread(target=api.serve_forever, name="scripted-api", daemon=True).start()
    try:
        with site_for_api(api.url) as site:
            api.allowed_origin = site.url
            yield api, site.url + "/"
    finally:
        if api.reply.hold is not None:
            api.reply.hold.set()  # a test that failed before releasing its held reply
        _stop(api)


def closed_port_url() -> str:
    """``http://127.0.0.1:PORT`` where nothing listens (a port the OS just handed out and took back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    return f"http://{HOST}:{port}"
