"""The whole local stack over real HTTP: site, config.js, API (real handler), endpoint, CORS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from ml.config import ROOT
from ml.pipeline import TrainOutcome
from ops.local.api import build_event
from ops.local.site import SiteServer, security_headers
from ops.local.stack import LocalStack, PortError, start_stack
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON


@pytest.fixture(scope="module")
def stack(trained: tuple[Settings, TrainOutcome]) -> Iterator[LocalStack]:
    with start_stack(trained[0], ephemeral_ports=True) as running:
        yield running


def request(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None, method: str | None = None
) -> tuple[int, Message, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def classify(stack: LocalStack, payload: Any, origin: str | None = None) -> tuple[int, Message, Any]:
    headers = {"Content-Type": "application/json", **({"Origin": origin} if origin else {})}
    status, hdrs, body = request(stack.api.url + "/classify", json.dumps(payload).encode(), headers)
    return status, hdrs, json.loads(body)


def test_site_serves_the_page_and_a_config_pointing_at_its_own_origin(stack: LocalStack) -> None:
    status, headers, body = request(stack.site_url)
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"<textarea" in body
    status, headers, body = request(stack.site.url + "/config.js")
    assert status == 200 and "javascript" in headers["Content-Type"]
    assert b'apiUrl: ""' in body  # the page's own origin, which forwards /classify to the API
    assert request(stack.site.url + "/config.js.tftpl")[0] == 404


def test_api_classifies_the_seed_example_as_athlete(stack: LocalStack) -> None:
    status, headers, body = classify(stack, {"text": WALTER_JOHNSON}, origin=stack.site.url)
    assert status == 200 and body["label"] == "Athlete" and len(body["top"]) == 3
    assert headers["Access-Control-Allow-Origin"] == stack.site.url


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "Река Волга является самой длинной рекой в Европе.",
            "None of its 8 words is a common English word:",
        ),
        ("asdfgh qwerty zxcvb", "It reads like conversation, a request, a program's message, code or markup"),
    ],
)
def test_api_says_it_cannot_tell_for_text_the_deployed_model_cannot_judge(
    stack: LocalStack, text: str, reason: str
) -> None:
    # GIVEN a Russian sentence (no common English word: the clearest reason) or keyboard mashing, which the
    # deployed model's learned rule refuses, through the local API (the real handler)
    status, _, body = classify(stack, {"text": text}, origin=stack.site.url)
    # THEN a 200 without a label, with the reason, its word counts and the endpoint's top list
    assert status == 200 and body["label"] is None and len(body["top"]) == 3, body
    assert body["reason"].startswith(reason) and body["commonWords"] == 0


def test_the_stack_sets_the_lambda_environment_before_it_imports_the_handler(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    """AWS's advice, as ``invoke up`` runs it: in a fresh process, once the stack is up and before any
    request, the handler's initialisation has made the endpoint client and read the vocabulary."""
    settings, _ = trained
    code = (
        "import sys; from ops.settings import load_settings; from ops.local.stack import start_stack\n"
        "stack = start_stack(load_settings(), ephemeral_ports=True)\n"
        "handler = sys.modules['handler']\n"
        "print(len(handler._clients), len(handler._vocabularies)); stack.close()"
    )
    env = {
        **os.environ,
        "DBP_BUILD_DIR": str(settings.build_dir),
        "DBP_TERRAFORM_DIR": str(settings.terraform_dir),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"]


def test_api_answers_client_mistakes_with_json_4xx(stack: LocalStack) -> None:
    status, _, body = classify(stack, {"text": ""})
    assert status == 400 and "empty" in body["message"]
    status, _, _ = request(stack.api.url + "/classify", b"\xff\xfe", {"Content-Type": "application/json"})
    assert status == 400


def test_unknown_routes_are_404_like_api_gateway(stack: LocalStack) -> None:
    assert request(stack.api.url + "/other", b"{}", method="POST")[0] == 404
    assert request(stack.api.url + "/classify")[0] == 404  # GET is not routed


@pytest.mark.parametrize(("kind", "allowed"), [("site", True), ("other-port", False), ("evil", False)])
def test_cors_preflight_allows_only_the_site_origin(stack: LocalStack, kind: str, allowed: bool) -> None:
    origins = {"site": stack.site.url, "other-port": "http://127.0.0.1:1", "evil": "https://evil.example"}
    origin = origins[kind]
    status, headers, body = request(
        stack.api.url + "/classify",
        method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert status == 204 and body == b""
    assert headers.get("Access-Control-Allow-Origin") == (origin if allowed else None)


def test_endpoint_runtime_path_is_reachable_through_the_stack(stack: LocalStack) -> None:
    status, _, body = request(
        stack.endpoint.url + "/endpoints/dbpedia-classifier/invocations",
        b'{"instances": ["a river in europe"]}',
        {"Content-Type": "application/json"},
    )
    assert status == 200 and json.loads(body)[0]["label"] == ["__label__NaturalPlace"]


def test_events_are_built_like_sam_payload_v2() -> None:
    event = build_event(
        "POST", "/classify?x=1", {"Content-Type": "text/plain", "Host": "h"}, b"\xff", "1.2.3.4"
    )
    assert event["version"] == "2.0" and event["routeKey"] == "POST /classify"
    assert event["rawPath"] == "/classify" and event["rawQueryString"] == "x=1"
    assert event["headers"]["content-type"] == "text/plain"
    assert event["requestContext"]["http"]["method"] == "POST" and event["requestContext"]["http"]["sourceIp"]
    assert event["isBase64Encoded"] is True and event["body"] == "/w=="
    assert isinstance(event["requestContext"]["timeEpoch"], int)


def test_closing_the_stack_restores_the_environment(
    trained: tuple[Settings, TrainOutcome], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.delenv("ENDPOINT_NAME", raising=False)
    with start_stack(trained[0], ephemeral_ports=True) as running:
        assert os.environ["ENDPOINT_NAME"] == "dbpedia-classifier"
        url = running.api.url
    assert "ENDPOINT_NAME" not in os.environ
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/classify", timeout=2)


def test_port_in_use_leaves_nothing_running(trained: tuple[Settings, TrainOutcome]) -> None:
    import os
    import socket

    # GIVEN the API port is taken
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        settings = trained[0].replace(endpoint_port=_free_port(), api_port=busy, site_port=_free_port())
        before = dict(os.environ)
        # WHEN the stack starts THEN it fails naming the port and its flag, has bound nothing, changed no
        # environment
        with pytest.raises(PortError, match=f"^port {busy} \\(--api-port\\) is in use"):
            start_stack(settings)
        assert dict(os.environ) == before
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", settings.endpoint_port))


def test_a_port_in_use_is_named_even_with_endpoint_workers_sharing_theirs(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    """SO_REUSEPORT lets the workers share a port; it must not let a second stack share it too."""

    with start_stack(trained[0].replace(endpoint_workers=2), ephemeral_ports=True) as running:
        busy = running.endpoint.server_address[1]
        settings = trained[0].replace(
            endpoint_workers=2, endpoint_port=busy, api_port=_free_port(), site_port=_free_port()
        )
        with pytest.raises(PortError, match=f"^port {busy} \\(--endpoint-port\\) is in use"):
            start_stack(settings)


def test_the_same_port_for_two_servers_is_refused_before_anything_binds(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    import socket

    port, endpoint_port = _free_port(), _free_port()
    settings = trained[0].replace(endpoint_port=endpoint_port, api_port=port, site_port=port)
    with pytest.raises(PortError, match=f"--site-port and --api-port are both {port}"):
        start_stack(settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", endpoint_port))
    # AND picking free ports ignores the configured ones
    with start_stack(settings, ephemeral_ports=True) as running:
        assert len({running.endpoint.url, running.api.url, running.site.url}) == 3


def test_invoke_up_names_a_port_in_use_and_refuses_a_port_given_twice(
    trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    import os
    import socket

    from tests.helpers import run_invoke

    # GIVEN nothing trained: the same port twice is refused before any training
    env = {**os.environ, "DBP_BUILD_DIR": str(tmp_path / "build"), "DBP_TERRAFORM_DIR": str(tmp_path / "tf")}
    port = str(_free_port())
    done = run_invoke(env, "up", "--api-port", port, "--site-port", port)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: cannot start the local stack: --site-port and --api-port are both {port}; "
        "give each server its own port"
    ]
    assert not list((tmp_path / "build").rglob("model.bin")), "it trained before refusing"
    # AND with a model deployed, a port in use is named with its flag
    env["DBP_BUILD_DIR"] = str(trained[0].build_dir)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        done = run_invoke(env, "up", "--endpoint-port", str(busy), "--api-port", str(_free_port()))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"error: cannot start the local stack: port {busy} (--endpoint-port) is in use" in done.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_changed_deployed_archive_is_refused(
    trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    import shutil

    from ml.deploy import register_local
    from ml.package import ArtifactError

    settings = trained[0].replace(build_dir=tmp_path / "build")
    archive = tmp_path / "model.tar.gz"
    shutil.copy(trained[1].archive, archive)
    register_local(settings, archive)
    archive.write_bytes(archive.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match="changed since it was deployed"):
        start_stack(settings, ephemeral_ports=True)


@pytest.mark.parametrize("recorded", ["nfkd-lower-v0", None])
def test_a_model_trained_on_another_tokenizer_is_refused(tmp_path: Path, recorded: str | None) -> None:
    """GIVEN a registry entry from another tokenizer scheme (or from before schemes were recorded)."""
    from ml.deploy import register_local, tokenizer_mismatch
    from ml.lambda_src import text_tokenizer
    from ml.package import ArtifactError
    from ops.settings import load_settings

    settings = load_settings(build_dir=str(tmp_path / "build"))
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"not served")
    register_local(settings, archive)
    assert tokenizer_mismatch(settings) is None, "a model registered now matches today's tokenizer"
    entry = json.loads(settings.endpoint_registry.read_text())
    assert entry["dbpedia-classifier"]["tokenizer"] == text_tokenizer().SCHEME
    if recorded is None:
        del entry["dbpedia-classifier"]["tokenizer"]
    else:
        entry["dbpedia-classifier"]["tokenizer"] = recorded
    settings.endpoint_registry.write_text(json.dumps(entry))
    expected = recorded or "nfkd-lower-nltkword-v1"
    assert expected in (tokenizer_mismatch(settings) or "")
    with pytest.raises(ArtifactError, match=f"trained on tokenizer '{expected}'.*run `invoke train`"):
        start_stack(settings, ephemeral_ports=True)


def test_the_stack_with_two_endpoint_workers_classifies_and_stops_them(
    trained: tuple[Settings, TrainOutcome],
) -> None:

    settings = trained[0].replace(endpoint_workers=2)
    with start_stack(settings, ephemeral_ports=True) as running:
        (child,) = running.endpoint.worker_pids
        for _ in range(4):
            status, _, body = classify(running, {"text": WALTER_JOHNSON})
            assert status == 200 and body["label"] == "Athlete"
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def test_the_stack_with_two_api_workers_answers_from_both_and_stops_them(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    # GIVEN the stack with the API in 2 spawned processes, each with the real handler; the parent, which
    # hosts the endpoint, only holds the port (a handler there would share the endpoint's GIL)
    settings = trained[0].replace(api_workers=2)
    with start_stack(settings, ephemeral_ports=True) as running:
        children = running.api.worker_pids
        assert len(children) == 2
        before = [_cpu_ticks(child) for child in children]
        in_parent: list[object] = []
        running.api.handler = lambda event, context: in_parent.append(event) or {"statusCode": 500}
        # WHEN 64 fresh connections each classify (the kernel spreads connections over the two sockets)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: classify(running, {"text": WALTER_JOHNSON}), range(64)))
        # THEN every answer is a worker's handler's, each worker did part of the work, the parent none
        assert all(status == 200 and body["label"] == "Athlete" for status, _, body in answers)
        assert all(_cpu_ticks(child) > ticks for child, ticks in zip(children, before, strict=True))
        assert in_parent == []
    # AND stopping the stack stops the workers
    for child in children:
        stat = Path(f"/proc/{child}/stat")
        assert not stat.exists() or "Z" in stat.read_text().split()[2]


def test_a_port_in_use_is_named_even_with_api_workers_holding_theirs(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    """The API's parent binds without listening; its workers' listening sockets still keep the port."""
    with start_stack(trained[0].replace(api_workers=2), ephemeral_ports=True) as running:
        busy = running.api.server_address[1]
        other = trained[0].replace(
            api_workers=2, api_port=busy, endpoint_port=_free_port(), site_port=_free_port()
        )
        with pytest.raises(PortError, match=f"port {busy} \\(--api-port\\) is in use"):
            start_stack(other)


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_the_site_origin_forwards_classify_to_the_api_with_the_security_headers(stack: LocalStack) -> None:
    # GIVEN the local edge  WHEN the seed example is POSTed to /classify on the site's own origin
    status, headers, body = request(
        stack.site.url + "/classify",
        json.dumps({"text": WALTER_JOHNSON}).encode(),
        {"Content-Type": "application/json"},
    )
    # THEN the API's answer comes back, with the security headers of the one shared definition
    assert status == 200 and json.loads(body)["label"] == "Athlete"
    for name, value in security_headers().items():
        assert headers[name] == value
    # AND a client's mistake passes through as the API's 4xx; other paths take no POST, as in CloudFront
    status, _, body = request(stack.site.url + "/classify", b"{}", {"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["error"] == "bad_request"
    assert request(stack.site.url + "/index.html", b"{}", method="POST")[0] == 405
    assert (
        request(stack.site.url + "/")[1]["Content-Security-Policy"]
        == security_headers()["Content-Security-Policy"]
    )


def test_the_edge_answers_502_when_the_api_is_gone() -> None:
    site = SiteServer(("127.0.0.1", 0))
    site.upstream = "http://127.0.0.1:1"
    site.start()
    try:
        status, headers, _ = request(site.url + "/classify", b"{}", {"Content-Type": "application/json"})
    finally:
        site.shutdown()
        site.server_close()
    assert status == 502 and headers["X-Frame-Options"] == "DENY"
