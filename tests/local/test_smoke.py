"""``invoke smoke`` against the real local edge (the trained model behind the real Lambda handler), and each
check failing against a small real server on 127.0.0.1 that breaks its one promise."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ml.pipeline import TrainOutcome
from ops.local import smoke
from ops.local.site import SITE_DIR, security_headers
from ops.local.stack import LocalStack, start_stack
from ops.settings import Settings
from tests.browser.servers import closed_port_url
from tests.helpers import WALTER_JOHNSON, clean_env, load_event, run_invoke

HOST = "127.0.0.1"
Fault = Callable[[str, int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]
_NOT_COPIED = {"host", "content-length", "connection", "transfer-encoding", "server", "date"}


@pytest.fixture(scope="module")
def stack(trained: tuple[Settings, TrainOutcome]) -> Iterator[LocalStack]:
    with start_stack(trained[0], ephemeral_ports=True) as running:
        yield running


@contextmanager
def serving(handler: Callable[..., BaseHTTPRequestHandler], **attributes: Any) -> Iterator[str]:
    """A real threaded HTTP server on a free port with ``attributes`` set on it; yields its base URL."""
    server = ThreadingHTTPServer((HOST, 0), handler)
    server.daemon_threads = True
    for name, value in attributes.items():
        setattr(server, name, value)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in _NOT_COPIED:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Scripted(_Quiet):
    """Answers every request with the server's ``status``, ``headers`` and ``body``."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server: Any = self.server
        self._send(server.status, server.headers, server.body)

    do_GET = do_POST = _answer


class _FaultyEdge(_Quiet):
    """Forwards every request to the real local edge (``upstream``), with the server's ``added`` headers,
    and lets ``fault`` rewrite the answer."""

    def _forward(self) -> None:
        server: Any = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_COPIED}
        headers.update(getattr(server, "added", {}))
        answer = smoke.fetch(self.command, server.upstream + self.path, body or None, headers)
        self._send(*server.fault(self.path, answer.status, dict(answer.headers), answer.body))

    do_GET = do_POST = _forward


def scripted(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Any:
    return serving(_Scripted, status=status, headers=headers or {}, body=body)


def without_security_headers(
    path: str, status: int, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """An edge whose response headers policy is not attached."""
    ours = {name.lower() for name in security_headers()}
    return status, {k: v for k, v in headers.items() if k.lower() not in ours}, body


def wrong_label(
    path: str, status: int, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """A /classify whose model calls the seed's pitcher a company."""
    if path == "/classify":
        data = json.loads(body)
        if data["label"] == "Athlete":
            body = json.dumps({**data, "label": "Company"}).encode()
    return status, headers, body


def smoke_lines(done: Any) -> tuple[list[str], list[str], list[str]]:
    """The passed, failed and skipped lines of an ``invoke smoke`` run."""
    lines = done.stdout.splitlines()
    return (
        [line for line in lines if line.startswith(smoke.PASSED)],
        [line for line in lines if line.startswith(smoke.FAILED)],
        [line for line in lines if line.startswith(smoke.SKIPPED)],
    )


def test_smoke_passes_on_the_local_edge_and_says_which_checks_it_cannot_make_there(
    stack: LocalStack,
) -> None:
    # GIVEN `invoke up`'s stack (the real edge, API, handler and endpoint)  WHEN `invoke smoke` runs with
    # no URL, so it checks the local site at --site-port
    done = run_invoke(clean_env(DBP_SITE_PORT=str(stack.site.server_address[1])), "smoke")
    passed, failed, skipped = smoke_lines(done)
    # THEN the four checks that apply pass, and the three that cannot apply locally say why
    assert done.returncode == 0, done.stdout + done.stderr
    assert not failed and len(passed) == 3 and len(skipped) == 3, done.stdout
    assert f'{smoke.SEED}: label "Athlete"' in done.stdout
    assert f"{smoke.NON_TOPIC}: label null (It reads like conversation, a request" in done.stdout
    assert f"{smoke.REDIRECT}: skipped: {stack.site_url} is plain HTTP" in done.stdout
    assert f"{smoke.DIRECT_API}: skipped: the local stack's API checks no origin header" in done.stdout
    assert f"{smoke.BUCKET}: skipped: the local edge serves site/ from disk" in done.stdout


def as_it_is(
    path: str, status: int, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    return status, headers, body


def test_smoke_passes_on_the_shape_of_aws_the_api_refusing_calls_that_skip_the_edge(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the real handler with the secret Terraform gives it, an edge that adds it to what it forwards
    # (as CloudFront's origin custom header), and a bucket that denies anonymous reads (as S3 does)
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", "from-terraform")
    denied = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    with (
        serving(
            _FaultyEdge,
            upstream=stack.site.url,
            fault=as_it_is,
            added={"x-origin-verify": "from-terraform"},
        ) as edge,
        scripted(403, {"Content-Type": "application/xml"}, denied) as bucket,
    ):
        # WHEN `invoke smoke` checks them with the API's own URL
        done = run_invoke(
            clean_env(), "smoke", "--url", edge, "--api-url", stack.api.url, "--bucket-url", bucket
        )
    # THEN every check but the HTTPS redirect (plain HTTP here) passes
    passed, failed, skipped = smoke_lines(done)
    assert done.returncode == 0 and not failed and len(passed) == 5, done.stdout + done.stderr
    assert skipped == [
        f"- {smoke.REDIRECT}: skipped: {edge}/ is plain HTTP: there is no HTTPS to redirect to"
    ]
    assert f"✓ {smoke.DIRECT_API}: {stack.api.url}/classify answers 403" in passed


@pytest.mark.parametrize(
    ("breaks", "failing", "seen"),
    [
        ("headers", smoke.HEADERS, ("the page lacks Strict-Transport-Security, Content-Security-Policy",)),
        ("label", smoke.SEED, ('label "Company" (probability ', "; expected 'Athlete': is the live model")),
        ("api", smoke.DIRECT_API, ("/classify answers 200; anyone can call the API around CloudFront",)),
        ("bucket", smoke.BUCKET, ("/index.html answers 200; the bucket must block public access",)),
    ],
)
def test_smoke_exits_1_with_one_line_naming_the_promise_broken(
    stack: LocalStack, breaks: str, failing: str, seen: tuple[str, ...]
) -> None:
    # GIVEN the real local edge behind a proxy that drops the security headers or changes the label, or the
    # local API (no origin check) given as the API's own URL, or a folder served to anyone as the bucket
    with (
        serving(_FaultyEdge, upstream=stack.site.url, fault=without_security_headers) as no_headers,
        serving(_FaultyEdge, upstream=stack.site.url, fault=wrong_label) as mislabels,
        serving(partial(SimpleHTTPRequestHandler, directory=str(SITE_DIR))) as public_bucket,
    ):
        args = {
            "headers": ["--url", no_headers],
            "label": ["--url", mislabels],
            "api": ["--url", stack.site.url, "--api-url", stack.api.url],
            "bucket": ["--url", stack.site.url, "--bucket-url", public_bucket],
        }[breaks]
        # WHEN `invoke smoke` checks it
        done = run_invoke(clean_env(), "smoke", *args)
    # THEN it exits 1 with exactly one failed line, naming that check, what it saw and what to do
    _, failed, _ = smoke_lines(done)
    assert done.returncode == 1, done.stdout + done.stderr
    assert len(failed) == 1 and failed[0].startswith(f"{smoke.FAILED} {failing}: "), done.stdout
    assert all(fragment in failed[0] for fragment in seen), failed[0]
    assert "smoke: 1 of 6 checks failed" in done.stderr


def test_without_a_stack_smoke_is_one_line_and_exit_1() -> None:
    # GIVEN nothing listens at the local site's port  WHEN `invoke smoke` runs without --url
    port = closed_port_url().rsplit(":", 1)[1]
    done = run_invoke(clean_env(DBP_SITE_PORT=port), "smoke")
    # THEN one line says nothing answers there and what to start; no check ran
    assert done.returncode == 1 and not done.stdout
    assert done.stderr.strip().splitlines() == [
        f"error: nothing answers at http://127.0.0.1:{port}/ (Connection refused): start the stack "
        "(`invoke up` locally, `invoke infra --target aws` in AWS) or give its URL with --url"
    ]


def test_the_redirect_check_wants_a_redirect_to_the_https_origin() -> None:
    https = "https://d111.cloudfront.example/"
    with (
        scripted(301, {"Location": https}) as redirects,
        scripted(301, {"Location": "http://d111.cloudfront.example/"}) as to_http,
        scripted(301, {"Location": "https://elsewhere.example/"}) as elsewhere,
        scripted(200, body=b"<html></html>") as serves,
    ):
        assert smoke.https_redirect(redirects + "/", https).mark == smoke.PASSED
        for url in (to_http, elsewhere, serves):
            result = smoke.https_redirect(url + "/", https)
            assert result.mark == smoke.FAILED and "redirect-to-https" in result.detail, result


def test_the_header_check_names_a_value_that_differs_and_a_page_that_is_not_there() -> None:
    headers = {**security_headers(), "Content-Security-Policy": "default-src *"}
    with scripted(200, headers) as loose, scripted(403) as denied:
        result = smoke.security_headers_present(loose + "/", security_headers())
        assert result.mark == smoke.FAILED
        assert result.detail.startswith("the page Content-Security-Policy is 'default-src *'; ")
        result = smoke.security_headers_present(denied + "/", security_headers())
        assert result.mark == smoke.FAILED and "answers 403, not the page" in result.detail


def test_a_check_whose_url_does_not_answer_fails_saying_so() -> None:
    url = closed_port_url()
    result = smoke.bucket_private(url)
    assert result.line() == f"✗ {smoke.BUCKET}: no answer from {url}/index.html (Connection refused)"


def test_a_classify_answer_that_is_not_the_lambdas_json_fails_with_its_status() -> None:
    with scripted(502, {"Content-Type": "text/html"}, b"<h1>502 ERROR</h1>") as bad_gateway:
        result = smoke.classify_label(smoke.SEED, bad_gateway + "/classify", "text", "Athlete")
    assert result.mark == smoke.FAILED and "answers 502 '<h1>502 ERROR</h1>'" in result.detail


def test_a_url_that_is_not_http_is_refused_in_one_line() -> None:
    done = run_invoke(clean_env(), "smoke", "--url", "ftp://example.com/")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: --url ftp://example.com/: is not valid (the site to check (aws: the stack's site_url "
        "output; local: `invoke up`'s site))"
    )


def test_the_example_is_the_seeds_own_test_event() -> None:
    assert smoke.SEED_EXAMPLE == load_event("plainTestEvent.json")["body"] == WALTER_JOHNSON
