"""Serve ``site/`` locally, with ``config.js`` rendered from the same template Terraform renders."""

from __future__ import annotations

from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from string import Template
from typing import Any

from ml.config import ROOT, log
from ops.local.http import IDLE_TIMEOUT_SECONDS, BackgroundServer, StdlibHandler

SITE_DIR = ROOT / "site"
CONFIG_TEMPLATE = "config.js.tftpl"


def render_config(api_url: str, max_text_chars: int, site_dir: Path = SITE_DIR) -> str:
    """``config.js`` for an API base URL and the Lambda's text limit (the placeholders Terraform fills)."""
    template = Template((site_dir / CONFIG_TEMPLATE).read_text(encoding="utf-8"))
    return template.substitute(api_url=api_url, max_text_chars=max_text_chars)


class SiteServer(BackgroundServer):
    """Static files from ``site/``; ``/config.js`` generated; the template itself never served."""

    name = "site"

    def __init__(
        self, address: tuple[str, int], site_dir: Path = SITE_DIR, idle_timeout: float = IDLE_TIMEOUT_SECONDS
    ) -> None:
        super().__init__(address, partial(_Handler, directory=str(site_dir)), idle_timeout)
        self.site_dir = site_dir
        self.api_url = ""
        self.max_text_chars = 0  # the Lambda's limit, which the page shows (0: not set up, like no api_url)


class _Handler(SimpleHTTPRequestHandler, StdlibHandler):
    server: SiteServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("site %s - %s", self.address_string(), format % args)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def do_GET(self) -> None:
        if self.translate_path(self.path) == str(self.server.site_dir / "config.js"):
            body = render_config(
                self.server.api_url, self.server.max_text_chars, self.server.site_dir
            ).encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            super().do_GET()

    def send_head(self) -> Any:
        """Open the file for GET and HEAD; a template, however its path is spelled, is not found."""
        if self.translate_path(self.path).endswith(".tftpl"):  # decoded and normalised, as it is opened
            self.send_error(HTTPStatus.NOT_FOUND)
            return None
        return super().send_head()
