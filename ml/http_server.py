"""The base of the project's local HTTP servers: threaded, bound on construction, served in the background."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

from ml.config import log


class BackgroundServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` that knows its URL and serves on a daemon thread once ``start`` is called."""

    daemon_threads = True
    name = "server"  # subclasses say what they serve, for the thread name and the log line

    @property
    def url(self) -> str:
        """Base URL (also the origin), e.g. ``http://127.0.0.1:8080``."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        """Serve on a daemon thread."""
        threading.Thread(target=self.serve_forever, name=self.name, daemon=True).start()
        log.info("%s serving at %s", self.name, self.url)
