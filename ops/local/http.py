"""The base of the project's local HTTP servers: threaded, bound on construction, served in the background.

``BackgroundServer`` is what the three servers share at the socket: a listen backlog that takes bursts of
simultaneous connections, and an idle timeout on every connection. A server that names a worker target
(the endpoint, the API) can serve in ``workers`` processes: ``workers`` - 1 more are spawned, each building
its own server on the same port with ``SO_REUSEPORT`` (the kernel spreads new connections over them); one
that dies is logged and replaced, and they all stop with the server. A server whose parent must not serve
(``parent_serves`` False: the API, whose handler would share a GIL with the endpoint) spawns ``workers``
processes instead and only holds the port in the parent (bound, not listening: no connection reaches it).
Their handlers share the request checks: no chunked bodies (411, connection closed), and a target whose
path does not decode to UTF-8 without NUL is a 400. ``StdlibHandler`` adds those checks to
``http.server``'s handler (the site).

``LeanHandler`` is a small HTTP/1.1 request handler for the hot paths of the endpoint and the API: headers
parsed into a dict (not through ``email``'s parser as ``http.server`` does), the body read by
``Content-Length``, keep-alive by default, and the whole response written with one ``send`` instead of
two. Request line and headers are bounded; anything it cannot read safely is answered 400 / 411 / 413
and the connection closed.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from socketserver import BaseRequestHandler, StreamRequestHandler
from typing import Any
from urllib.parse import unquote

from ml.config import log
from ml.errors import ProjectError

MAX_LINE_BYTES = 8192  # request line or one header line
MAX_HEADERS = 100
IDLE_TIMEOUT_SECONDS = 60.0  # a connection that sends nothing for this long is closed
LISTEN_BACKLOG = 1024  # connections the kernel queues before the server accepts them (capped by somaxconn)
CHUNKED_REFUSED = "chunked bodies are not supported; send Content-Length"
WORKER_START_SECONDS = 60.0
_REASONS = {int(s): s.phrase for s in HTTPStatus}
# What an extra worker process runs: target(*args, host, port, workers, ready, idle_timeout=, control=),
# which calls serve_worker with a function that builds its server (joining=True).
WorkerTarget = tuple[Callable[..., None], tuple[Any, ...]]


class WorkerError(ProjectError):
    """An extra worker process of a server could not start."""


class BackgroundServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` that knows its URL and serves on a daemon thread once ``start`` is called,
    in ``workers`` processes when its subclass names a :meth:`worker_target`."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    name = "server"  # subclasses say what they serve, for the thread name and the log line
    workers_flag = ""  # the command-line flag that sets ``workers``, for the error that suggests fewer
    parent_serves = True  # with workers > 1: False serves in ``workers`` spawned processes, none here

    def __init__(
        self,
        address: tuple[str, int],
        handler: Callable[..., BaseRequestHandler],
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        workers: int = 1,
        joining: bool = False,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.idle_timeout = idle_timeout
        self.workers = workers
        self.allow_reuse_port = workers > 1  # read by server_bind, before any worker joins the port
        self._joining = joining  # a worker joins its parent's port; the parent needs a free one
        # the parent only holds the port: bound, never listening, so every connection reaches a worker
        self.holds_only = workers > 1 and not joining and not self.parent_serves
        self._children: list[BaseProcess] = []  # set before binding: a failed bind calls server_close
        self._controls: dict[BaseProcess, Connection] = {}  # each worker's end of its control pipe
        self._lock = threading.Lock()  # held while the worker list changes
        self._closing = threading.Event()
        self._watcher: threading.Thread | None = None
        super().__init__(address, handler)

    def server_bind(self) -> None:
        """Bind; with ``SO_REUSEPORT`` only to a free port, which another server could otherwise share."""
        if self.allow_reuse_port and not self._joining and self.server_address[1]:
            with socket.socket(self.address_family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as server_bind does
                probe.bind(self.server_address)  # EADDRINUSE when any server listens there
        super().server_bind()

    def server_activate(self) -> None:
        """Listen, unless this process only holds the port for its workers."""
        if not self.holds_only:
            super().server_activate()

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection; a read or write on it that waits ``idle_timeout`` seconds closes it."""
        connection, client = super().get_request()
        connection.settimeout(self.idle_timeout)
        return connection, client

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone before its answer was written is a debug line; any other error is logged with its
        traceback (the stdlib prints every one of them to stderr, a client's disconnect included)."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            log.debug("%s: %s went away before its answer was sent", self.name, client_address)
            return
        log.exception("%s: error while answering %s", self.name, client_address)

    @property
    def url(self) -> str:
        """Base URL (also the origin), e.g. ``http://127.0.0.1:8080``."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the extra workers (empty with one worker)."""
        return [child.pid for child in self._children if child.pid is not None]

    def worker_target(self) -> WorkerTarget:
        """What an extra worker process runs (see ``WorkerTarget``); a server with workers names it."""
        raise ValueError(f"the {self.name} cannot serve in more than one process")

    def start(self) -> None:
        """Start the extra worker processes (each ready before this returns), then serve on a thread."""
        if self.workers > 1:
            try:
                for _ in range(self.spawned):
                    self._children.append(self._start_worker())
            except WorkerError:
                self._stop_workers()
                raise
            log.info("%s: %d worker processes on port %d", self.name, self.workers, self.server_address[1])
            self._watcher = threading.Thread(
                target=self._replace_dead_workers, name=f"{self.name} watcher", daemon=True
            )
            self._watcher.start()
        if not self.holds_only:
            threading.Thread(target=self.serve_forever, name=self.name, daemon=True).start()
        log.info("%s serving at %s", self.name, self.url)

    @property
    def spawned(self) -> int:
        """How many worker processes this server spawns."""
        return self.workers if self.holds_only else self.workers - 1

    def shutdown(self) -> None:
        """Stop serving on this process's thread (a server that only holds the port has none)."""
        if not self.holds_only:
            super().shutdown()

    def _start_worker(self) -> BaseProcess:
        """Spawn one extra worker and wait until it has built its server and joined the port."""
        target, args = self.worker_target()
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded process
        host, port = self.server_address[:2]
        ready = ctx.Event()
        control, worker_end = ctx.Pipe()
        child = ctx.Process(
            target=target,
            args=(*args, host, port, self.workers, ready),
            kwargs={"idle_timeout": self.idle_timeout, "control": worker_end},
            name=f"{self.name} worker",
            daemon=True,
        )
        child.start()
        deadline = time.monotonic() + WORKER_START_SECONDS
        while not ready.wait(0.1):
            if not child.is_alive() or time.monotonic() > deadline:
                child.terminate()
                child.join(10)
                flag = f"; try fewer {self.workers_flag}" if self.workers_flag else ""
                raise WorkerError(
                    f"a worker process of the {self.name} failed to start (exit code {child.exitcode}){flag}"
                )
        self._controls[child] = control
        self.follow_worker(control)
        return child

    def follow_worker(self, control: Connection) -> None:
        """Called in the parent for each worker started, with the parent's end of its control pipe."""

    def _replace_dead_workers(self) -> None:
        """Until the server closes: log each worker that exits and start a new one in its place."""
        while not self._closing.is_set():
            by_sentinel: dict[Any, BaseProcess] = {child.sentinel: child for child in self._children}
            for sentinel in multiprocessing.connection.wait(list(by_sentinel), timeout=1.0):
                with self._lock:
                    if self._closing.is_set():
                        return
                    dead = by_sentinel[sentinel]
                    dead.join()
                    self._children.remove(dead)
                    self._controls.pop(dead).close()
                    log.warning(
                        "%s: worker process %d exited (code %s); starting a new one",
                        self.name,
                        dead.pid,
                        dead.exitcode,
                    )
                    try:
                        child = self._start_worker()
                    except WorkerError as exc:
                        log.error(
                            "%s: %s; serving with %d of %d processes",
                            self.name,
                            exc,
                            len(self._children) + self.workers - self.spawned,
                            self.workers,
                        )
                        continue
                    self._children.append(child)
                    log.info("%s: worker process %d replaces %d", self.name, child.pid, dead.pid)

    def _stop_workers(self) -> None:
        self._closing.set()
        with self._lock:
            for child in self._children:
                child.terminate()
            for child in self._children:
                child.join(10)
            self._children.clear()
            for control in self._controls.values():
                control.close()
            self._controls.clear()
        if self._watcher is not None:
            self._watcher.join()

    def server_close(self) -> None:
        """Close the socket and stop the worker processes."""
        super().server_close()
        self._stop_workers()


def serve_worker(build: Callable[[], BackgroundServer], ready: Event) -> None:
    """In an extra worker process: build its server (joining the parent's port), tell the parent, serve
    until the parent stops it or dies. Ctrl-C reaches the whole process group: the parent stops us."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def exit_when_orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=exit_when_orphaned, daemon=True).start()
    server = build()
    ready.set()
    server.serve_forever()


class HttpRequestError(Exception):
    """The request cannot be read; answer ``status`` and close the connection."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class LeanHandler(StreamRequestHandler):
    """Reads requests on one connection and hands each to :meth:`respond`; subclasses route.

    ``respond(method, path, headers, body)`` returns ``(status, content type, extra headers, body)``;
    ``headers`` has lower-case names; an extra ``Connection: close`` closes the connection after the
    answer. ``max_body_bytes`` bounds the body.
    """

    disable_nagle_algorithm = True
    max_body_bytes = 1024 * 1024

    def respond(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str, Mapping[str, str], bytes]:
        raise NotImplementedError

    def handle(self) -> None:
        try:
            while self._handle_one():
                pass
        except (TimeoutError, ConnectionError):
            pass  # the client went away or stayed idle: nothing to answer

    def _handle_one(self) -> bool:
        """Serve one request; return whether the connection stays open."""
        line = self.rfile.readline(MAX_LINE_BYTES + 1)
        if line in (b"\r\n", b"\n"):  # a stray line end before a request is ignored (RFC 9112, 2.2)
            line = self.rfile.readline(MAX_LINE_BYTES + 1)
        if not line:
            return False
        try:
            method, path, version, headers = self._read_head(line)
            keep_alive = _keep_alive(version, headers.get("connection", ""))
            body = self._read_body(method, headers)
        except HttpRequestError as exc:
            self._write(exc.status, "application/json", {}, _message(str(exc)), keep_alive=False)
            return False
        try:
            status, content_type, extra, answer = self.respond(method, path, headers, body)
        except Exception:  # a bug must not take the server down: answer 500 and log it
            log.exception("unhandled error serving %s %s", method, path)
            status, content_type, extra, answer = 500, "application/json", {}, _message("internal error")
            keep_alive = False
        if extra.get("Connection", "").lower() == "close":  # respond asked to close after this answer
            keep_alive = False
            extra = {name: value for name, value in extra.items() if name != "Connection"}
        self._write(status, content_type, extra, answer, keep_alive, http10=version == "HTTP/1.0")
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s %d %d", self.client_address[0], method, path, status, len(answer))
        return keep_alive

    def _read_head(self, line: bytes) -> tuple[str, str, str, dict[str, str]]:
        if len(line) > MAX_LINE_BYTES or not line.endswith(b"\n"):
            raise HttpRequestError(HTTPStatus.REQUEST_URI_TOO_LONG, "request line too long")
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
            raise HttpRequestError(HTTPStatus.BAD_REQUEST, "malformed request line")
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            raw = self.rfile.readline(MAX_LINE_BYTES + 1)
            if raw in (b"\r\n", b"\n"):
                check_target(parts[1])  # after the headers: the answer is not lost to unread bytes
                return parts[0], parts[1], parts[2], headers
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep or len(raw) > MAX_LINE_BYTES or not raw.endswith(b"\n"):
                raise HttpRequestError(HTTPStatus.BAD_REQUEST, "malformed header line")
            headers[name.strip().lower()] = value.strip()
        raise HttpRequestError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, f"more than {MAX_HEADERS} headers")

    def _read_body(self, method: str, headers: Mapping[str, str]) -> bytes:
        if "transfer-encoding" in headers:
            raise HttpRequestError(HTTPStatus.LENGTH_REQUIRED, CHUNKED_REFUSED)
        length = headers.get("content-length")
        if length is None:
            if method == "POST":
                raise HttpRequestError(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
            return b""
        if not length.isdigit():
            raise HttpRequestError(HTTPStatus.BAD_REQUEST, "Content-Length is not a number")
        if int(length) > self.max_body_bytes:
            raise HttpRequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body exceeds {self.max_body_bytes} bytes"
            )
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self.rfile.read(int(length))
        if len(body) != int(length):
            raise ConnectionResetError("the client closed the connection mid-body")
        return body

    def _write(
        self,
        status: int,
        content_type: str,
        extra: Mapping[str, str],
        body: bytes,
        keep_alive: bool,
        http10: bool = False,
    ) -> None:
        head = [f"HTTP/1.1 {int(status)} {_REASONS.get(status, '')}", f"Content-Type: {content_type}"]
        head.append(f"Content-Length: {len(body)}")
        head += [f"{name}: {value}" for name, value in extra.items()]
        if not keep_alive:
            head.append("Connection: close")
        elif http10:
            head.append("Connection: keep-alive")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


class StdlibHandler(BaseHTTPRequestHandler):
    """``http.server``'s handler with the shared request checks; a refused request closes the connection."""

    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        try:
            if "Transfer-Encoding" in self.headers:
                raise HttpRequestError(HTTPStatus.LENGTH_REQUIRED, CHUNKED_REFUSED)
            check_target(self.path)
        except HttpRequestError as exc:
            self.send_error(exc.status, str(exc))  # sends Connection: close and closes after it
            return False
        return True


def check_target(target: str) -> None:
    """Raise 400 unless the request target's path percent-decodes to UTF-8 without NUL."""
    path = target.split("?", 1)[0]
    try:
        decoded = unquote(path, errors="strict") if "%" in path else path
    except UnicodeDecodeError:
        raise HttpRequestError(HTTPStatus.BAD_REQUEST, "the path is not UTF-8") from None
    if "\x00" in decoded:
        raise HttpRequestError(HTTPStatus.BAD_REQUEST, "the path holds a NUL character")


def _keep_alive(version: str, connection: str) -> bool:
    tokens = {t.strip().lower() for t in connection.split(",")}
    return "keep-alive" in tokens if version == "HTTP/1.0" else "close" not in tokens


def _message(text: str) -> bytes:
    return json.dumps({"message": text}).encode()
