"""What the three local servers share (``ops/local/http.py``), over raw sockets on 127.0.0.1.

Endpoint, API and site: a burst of simultaneous connections fits the listen backlog, an idle connection
is closed after the server's idle time, a chunked body is refused and closes the connection, and a path
that decodes to NUL or to no UTF-8 is a 400. The site never serves its template, however the path is spelled.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from ops.local.api import LocalApi, deployed_handler
from ops.local.endpoint import EndpointServer
from ops.local.http import BackgroundServer
from ops.local.site import SiteServer

NAME = "dbpedia-classifier"
ORIGIN = "http://127.0.0.1:1"
Factory = Callable[..., BackgroundServer]


@pytest.fixture
def make_server(endpoint: EndpointServer) -> Iterator[Callable[[str, float], BackgroundServer]]:
    """Build (not start) one of the three servers on a free port; all are shut down at the end.

    Each test starts what it builds (``shutdown`` waits for ``serve_forever``)."""
    made: list[BackgroundServer] = []

    def make(kind: str, idle_timeout: float = 60.0) -> BackgroundServer:
        address = ("127.0.0.1", 0)
        server: BackgroundServer
        if kind == "endpoint":
            server = EndpointServer(address, endpoint.predictor, NAME, idle_timeout=idle_timeout)
        elif kind == "api":
            server = LocalApi(address, deployed_handler(), [ORIGIN], idle_timeout=idle_timeout)
        else:
            server = SiteServer(address, idle_timeout=idle_timeout)
        made.append(server)
        return server

    yield make
    for server in made:
        server.shutdown()
        server.server_close()


# One request each server answers without calling anything else, and the status it answers.
PROBES = {
    "endpoint": (b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", b"200"),
    "api": (b"OPTIONS /classify HTTP/1.1\r\nHost: x\r\nOrigin: " + ORIGIN.encode() + b"\r\n\r\n", b"204"),
    "site": (b"GET /config.js HTTP/1.1\r\nHost: x\r\n\r\n", b"200"),
}


def read_response(conn: socket.socket) -> bytes:
    """One response (head and Content-Length body) from a keep-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"the server closed the connection mid-response: {data[:80]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def exchange(server: BackgroundServer, request: bytes) -> bytes:
    """Send raw bytes on a fresh connection; everything the server answers until it closes."""
    with socket.create_connection(server.server_address[:2], timeout=10) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("kind", ["endpoint", "api", "site"])
def test_a_burst_of_50_connections_fits_the_backlog_and_each_is_answered(
    make_server: Callable[[str], BackgroundServer], kind: str
) -> None:
    # GIVEN a bound server that does not accept yet: the worst case of a burst, made deterministic
    server = make_server(kind)
    request, status = PROBES[kind]
    conns = [socket.socket() for _ in range(50)]
    try:
        for conn in conns:
            conn.setblocking(False)
            conn.connect_ex(server.server_address[:2])
        # WHEN 50 clients connect at once THEN every handshake completes (a full backlog drops the SYN)
        pending = set(conns)
        deadline = time.monotonic() + 10
        while pending and time.monotonic() < deadline:
            pending -= set(select.select([], list(pending), [], 0.5)[1])
        server.start()  # before any assertion: the fixture's shutdown waits for a serving server
        assert not pending, f"{len(pending)} of 50 connections did not fit the listen backlog"
        assert all(conn.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for conn in conns)
        # AND once the server serves, each gets its answer, none reset
        for conn in conns:
            conn.settimeout(10)
            conn.sendall(request)
        answers = [read_response(conn) for conn in conns]
    finally:
        for conn in conns:
            conn.close()
    assert all(answer.split(b" ", 2)[1] == status for answer in answers)


@pytest.mark.parametrize("kind", ["endpoint", "api", "site"])
def test_an_idle_keep_alive_connection_is_closed_after_the_idle_time(
    make_server: Callable[[str, float], BackgroundServer], kind: str
) -> None:
    # GIVEN a server with a short idle time, a connection served once and one that never sent a request
    server = make_server(kind, 0.3)
    server.start()
    request, status = PROBES[kind]
    with (
        socket.create_connection(server.server_address[:2], timeout=10) as served,
        socket.create_connection(server.server_address[:2], timeout=10) as silent,
    ):
        served.sendall(request)
        assert read_response(served).split(b" ", 2)[1] == status
        # WHEN the clients then send nothing THEN the server closes both (well before the client's 10 s)
        assert served.recv(1) == b""
        assert silent.recv(1) == b""


CHUNKED = (
    b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
    b'13\r\n{"text": "a river"}\r\n'
    b"0\r\n\r\n"
)


@pytest.mark.parametrize("kind", ["endpoint", "api", "site"])
def test_a_chunked_body_is_refused_and_its_bytes_are_not_parsed_as_requests(
    make_server: Callable[[str], BackgroundServer], kind: str
) -> None:
    server = make_server(kind)
    server.start()
    # WHEN a request sends its body chunked THEN one 411 with Connection: close, and the server closes
    answer = exchange(server, CHUNKED)
    assert answer.split(b" ", 2)[1] == b"411", answer[:120]
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.count(b"HTTP/1.") == 1, "the chunk bytes were read as a second request"


def test_an_api_body_that_is_not_read_closes_the_connection(
    make_server: Callable[[str], BackgroundServer],
) -> None:
    # GIVEN a request on a route that reads no body, whose body looks like a further request
    server = make_server("api")
    server.start()
    smuggled = b"GET /classify HTTP/1.1\r\nHost: x\r\n\r\n"
    head = f"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: {len(smuggled)}\r\n\r\n".encode()
    for request in (head + smuggled, head.replace(b"POST /other", b"OPTIONS /classify") + smuggled):
        # WHEN it is answered THEN only it is answered, and the connection closed
        answer = exchange(server, request)
        assert answer.count(b"HTTP/1.") == 1 and b"\r\nConnection: close\r\n" in answer, answer


@pytest.mark.parametrize("kind", ["endpoint", "api", "site"])
@pytest.mark.parametrize("path", ["/%00", "/config.js%00", "/classify%00?x", "/%ed%a0%80", "/%ff"])
def test_a_path_that_decodes_to_nul_or_no_utf8_is_a_400(
    make_server: Callable[[str], BackgroundServer], kind: str, path: str
) -> None:
    server = make_server(kind)
    server.start()
    for method in ("GET", "POST"):
        answer = exchange(
            server, f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
        )
        assert answer.split(b" ", 2)[1] == b"400", answer[:120]


def test_an_api_target_that_is_no_url_is_a_404_not_an_error(
    make_server: Callable[[str], BackgroundServer],
) -> None:
    server = make_server("api")
    server.start()
    answer = exchange(
        server, b"POST //[x/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert answer.split(b" ", 2)[1] == b"404", answer[:120]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/config.js.tftpl"),
        ("GET", "/config.js%2etftpl"),
        ("GET", "/config.js.tftp%6c"),
        ("GET", "/%63onfig.js.tftpl"),
        ("GET", "/config.js.tftpl#x"),
        ("GET", "/./x/../config.js.tftpl"),
        ("GET", "//config.js.tftpl?x=1"),
        ("HEAD", "/config.js.tftpl"),
        ("HEAD", "/config.js%2Etftpl"),
    ],
)
def test_the_site_never_serves_its_template(
    make_server: Callable[[str], BackgroundServer], method: str, path: str
) -> None:
    server = make_server("site")
    server.start()
    answer = exchange(server, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert answer.split(b" ", 2)[1] == b"404", answer[:120]
    assert b"${api_url}" not in answer


def test_the_site_renders_config_js_however_its_path_is_spelled(
    make_server: Callable[[str], BackgroundServer],
) -> None:
    server = make_server("site")
    assert isinstance(server, SiteServer)
    server.api_url = "http://127.0.0.1:3000"
    server.start()
    for path in ("/config.js", "/config%2ejs", "/./config.js?v=1"):
        answer = exchange(server, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert answer.split(b" ", 2)[1] == b"200" and b'"http://127.0.0.1:3000"' in answer, path


def test_a_client_gone_mid_answer_is_no_traceback_and_other_errors_are_logged(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a server whose handler meets a client that went away, then one that fails on its own
    from http.server import BaseHTTPRequestHandler

    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            raise BrokenPipeError if self.path == "/gone" else ValueError("a bug")

    server = BackgroundServer(("127.0.0.1", 0), Failing)
    server.start()
    try:
        # WHEN each path is requested (the server closes the connection without an answer)
        for path in ("/gone", "/bug"):
            with socket.create_connection(server.server_address[:2], timeout=5) as conn:
                conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                assert conn.recv(1024) == b""
    finally:
        server.shutdown()
        server.server_close()
    # THEN nothing reached stderr, the disconnect is no error and the bug is logged with its traceback
    assert "Traceback" not in capfd.readouterr().err
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].exc_info is not None and "ValueError" in caplog.text


def test_the_api_answers_as_api_gateway_off_the_route_and_asks_for_a_length(
    make_server: Callable[[str], BackgroundServer],
) -> None:
    server = make_server("api")
    server.start()
    # WHEN a method no route takes reaches /classify THEN a JSON 404, as API Gateway answers it
    answer = exchange(
        server, b"PUT /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert answer.split(b" ", 2)[1] == b"404" and answer.endswith(b'{"message": "Not Found"}'), answer
    # AND a POST without Content-Length is a 411 that closes the connection, not a handler call
    answer = exchange(server, b"POST /classify HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.split(b" ", 2)[1] == b"411" and b"\r\nConnection: close\r\n" in answer, answer
