"""The local endpoint speaks SageMaker's protocols: driven by a real boto3 client and plain HTTP."""

from __future__ import annotations

import copy
import errno
import http.client
import json
import logging
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from ops.local.endpoint import MAX_BODY_BYTES, MAX_INSTANCES, EndpointServer, WorkerError, start_endpoint

NAME = "dbpedia-classifier"


@pytest.fixture
def runtime(endpoint: EndpointServer) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_boto3_invoke_endpoint_returns_blazingtext_predictions(runtime: Any) -> None:
    # GIVEN two tokenized instances and k=3 WHEN invoked through the runtime API with boto3
    body = {
        "instances": ["walter johnson was a baseball pitcher", "the danube is a river in europe"],
        "configuration": {"k": 3},
    }
    response = runtime.invoke_endpoint(
        EndpointName=NAME, ContentType="application/json", Body=json.dumps(body)
    )
    answer = json.loads(response["Body"].read())
    # THEN each instance gets 3 labels with descending probabilities, as BlazingText answers
    assert [len(a["label"]) for a in answer] == [3, 3]
    assert answer[0]["label"][0] == "__label__Athlete"
    assert answer[1]["label"][0] == "__label__NaturalPlace"
    for a in answer:
        assert a["prob"] == sorted(a["prob"], reverse=True) and 0 < a["prob"][0] <= 1


def test_unknown_endpoint_name_is_a_validation_error(runtime: Any) -> None:
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(
            EndpointName="other", ContentType="application/json", Body=b'{"instances":["x"]}'
        )
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert "other" in info.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"instances": ["a"]}', "text/csv", 415),
        (b"not json", "application/json", 400),
        (b'{"instances": "a"}', "application/json", 400),
        (b'{"instances": []}', "application/json", 400),
        (b'{"instances": [1, 2]}', "application/json", 400),
        (b'{"instances": ["a"], "configuration": {"k": 0}}', "application/json", 400),
        (b'{"instances": ["a"], "configuration": {"k": 15}}', "application/json", 400),
        (json.dumps({"instances": ["a"] * (MAX_INSTANCES + 1)}).encode(), "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
    ],
)
def test_container_contract_refuses_bad_requests(
    endpoint: EndpointServer, body: bytes, content_type: str, status: int
) -> None:
    code, answer = post(endpoint.url + "/invocations", body, content_type)
    assert code == status and answer["message"]


HUGE = "1" * 4301  # more digits than Python's int-string limit converts


@pytest.mark.parametrize(
    "body",
    [
        '{"instances": ["a"], "configuration": {"k": HUGE}}',
        '{"instances": [HUGE]}',
        '{"instances": ["a"], "other": [{"x": -HUGE}]}',
    ],
)
def test_an_integer_over_the_digit_limit_is_a_client_error_on_both_routes(
    endpoint: EndpointServer, body: str
) -> None:
    # GIVEN a body with an integer Python refuses to convert WHEN it is sent to either route
    data = body.replace("HUGE", HUGE).encode()
    code, answer = post(endpoint.url + "/invocations", data)
    # THEN it is a 400 (container contract) and a ModelError carrying that 400 (runtime API), never a 500
    assert code == 400 and "not valid" in answer["message"]
    code, answer = post(endpoint.url + f"/endpoints/{NAME}/invocations", data)
    assert code == 424 and answer["OriginalStatusCode"] == 400


@pytest.mark.parametrize("route", ["/invocations", f"/endpoints/{NAME}/invocations"])
def test_the_media_type_is_case_insensitive(endpoint: EndpointServer, route: str) -> None:
    body = b'{"instances": ["a river in europe"]}'
    code, answer = post(endpoint.url + route, body, "Application/JSON; charset=utf-8")
    assert code == 200 and answer[0]["label"] == ["__label__NaturalPlace"]


MEDIA_TYPES = st.tuples(
    st.tuples(*[st.sampled_from(sorted({c.lower(), c.upper()})) for c in "application/json"]).map("".join),
    st.sampled_from(["", "; charset=utf-8", ";CHARSET=UTF-8", " ; q=1"]),
).map("".join)
TOKENS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=40, deadline=None)
@given(
    content_type=MEDIA_TYPES,
    instances=st.lists(TOKENS, min_size=1, max_size=5),
    k=st.integers(1, 14),
)
def test_every_valid_request_is_classified_whatever_the_media_type_casing(
    endpoint: EndpointServer, content_type: str, instances: list[str], k: int
) -> None:
    # GIVEN a valid BlazingText request with any casing of application/json WHEN it is posted
    body = json.dumps({"instances": instances, "configuration": {"k": k}}).encode()
    code, answer = post(endpoint.url + "/invocations", body, content_type)
    # THEN it is classified: one answer per instance, k labels each (a parser refusing it fails here)
    assert code == 200, answer
    assert [len(a["label"]) for a in answer] == [k] * len(instances)


JSON_WITH_A_HUGE_INT = st.recursive(  # "HUGE" marks where the integer goes (no int of it can be built)
    st.just("HUGE"),
    lambda children: (
        st.lists(children | st.text(max_size=5), min_size=1, max_size=3)
        | st.dictionaries(st.sampled_from(["instances", "configuration", "k", "x"]), children, min_size=1)
    ),
    max_leaves=4,
).map(lambda value: json.dumps(value).replace('"HUGE"', HUGE))


@settings(max_examples=30, deadline=None)
@given(body=JSON_WITH_A_HUGE_INT)
def test_any_body_holding_an_integer_over_the_digit_limit_is_a_400(
    endpoint: EndpointServer, body: str
) -> None:
    code, answer = post(endpoint.url + "/invocations", body.encode())
    assert code == 400 and answer["message"], body[:80]


def test_model_errors_reach_boto3_as_modelerror_with_the_original_status(runtime: Any) -> None:
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=NAME, ContentType="application/json", Body=b'{"instances": []}')
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400


def test_ping_reports_model_loaded_and_not_loaded(endpoint: EndpointServer) -> None:
    with urllib.request.urlopen(endpoint.url + "/ping", timeout=5) as response:
        assert response.status == 200
    empty = start_endpoint(None, NAME)  # type: ignore[arg-type]
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(empty.url + "/ping", timeout=5)
        assert info.value.code == 503
        assert post(empty.url + "/invocations", b'{"instances": ["a"]}')[0] == 503
    finally:
        empty.shutdown()
        empty.server_close()


def test_server_keeps_serving_after_bad_requests(endpoint: EndpointServer) -> None:
    for body in (b"{", b"[]", b'{"instances": [null]}'):
        post(endpoint.url + "/invocations", body)
    code, answer = post(endpoint.url + "/invocations", b'{"instances": ["a film by a director"]}')
    assert code == 200 and answer[0]["label"] == ["__label__Film"]


# --- robustness: bounded requests, concurrency, raw HTTP mistakes ------------------------------------
def raw_exchange(endpoint: EndpointServer, request: bytes) -> bytes:
    """Send raw bytes on a fresh connection and return everything the server answers before closing."""
    host, port = endpoint.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"POST /invocations HTTP/2.0\r\n\r\n", b"400"),
        (b"POST /invocations HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"POST /invocations HTTP/1.1\r\nContent-Type: application/json\r\n\r\n", b"411"),
        (b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", b"411"),
        (b"POST /invocations HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400"),
        (b"POST /invocations HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", b"413"),
        (b"GET /" + b"x" * 10_000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"GET /ping HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", b"431"),
        (b"DELETE /invocations HTTP/1.1\r\nConnection: close\r\n\r\n", b"405"),
    ],
)
def test_unreadable_http_is_refused_and_the_connection_closed(
    endpoint: EndpointServer, request_bytes: bytes, status: bytes
) -> None:
    # GIVEN a request no HTTP client should send WHEN it reaches the endpoint
    answer = raw_exchange(endpoint, request_bytes)
    # THEN one status line comes back and the server closes the connection (raw_exchange returned)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:80]
    assert answer.count(b"HTTP/1.1 ") == 1


def test_oversized_body_is_refused_without_being_read(endpoint: EndpointServer) -> None:
    host, port = endpoint.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(f"POST /invocations HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode())
        conn.sendall(b"x" * 65536)  # the rest never comes: the server must answer anyway
        assert conn.recv(4096).startswith(b"HTTP/1.1 413")


def test_keep_alive_serves_many_requests_on_one_connection_and_http10_closes(
    endpoint: EndpointServer,
) -> None:
    body = b'{"instances": ["a film by a director"]}'
    one = (
        b"POST /invocations HTTP/1.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    last = one.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1)
    answer = raw_exchange(endpoint, one * 2 + b"\r\n" + one * 3 + last)  # a stray CRLF is ignored
    assert answer.count(b"HTTP/1.1 200 OK") == 6 and answer.count(b"__label__Film") == 6
    answer = raw_exchange(endpoint, b"GET /ping HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close" in answer


def test_concurrent_clients_with_good_and_bad_requests_all_get_their_own_answer(
    endpoint: EndpointServer,
) -> None:
    # GIVEN 16 threads, each alternating valid batches and malformed bodies on its own connection
    good = json.dumps({"instances": ["a river in europe", "a film by a director"]}).encode()
    bad = [b"{", b'{"instances": [1]}', b"\xff", json.dumps({"instances": ["a"] * 1001}).encode()]

    def client(i: int) -> list[tuple[int, bool]]:
        conn = http.client.HTTPConnection(*endpoint.server_address[:2], timeout=20)
        seen = []
        for j in range(20):
            body = good if (i + j) % 2 else bad[(i + j) % len(bad)]
            conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            answer = json.loads(response.read())
            right = answer[1]["label"] == ["__label__Film"] if body is good else bool(answer["message"])
            seen.append((response.status, right))
        conn.close()
        return seen

    # WHEN they all run at once
    with ThreadPoolExecutor(16) as pool:
        results = [r for batch in pool.map(client, range(16)) for r in batch]
    # THEN every good request is classified, every bad one refused with 400, none lost
    assert len(results) == 320 and all(right for _, right in results)
    assert sorted({status for status, _ in results}) == [200, 400]
    # AND the server still answers
    with urllib.request.urlopen(endpoint.url + "/ping", timeout=5) as response:
        assert response.status == 200


def test_extra_workers_share_the_port_serve_requests_and_stop_with_the_server(
    endpoint: EndpointServer,
) -> None:
    # GIVEN an endpoint with 2 worker processes (this one and a spawned one) on one port
    assert endpoint.predictor is not None
    server = start_endpoint(endpoint.predictor, NAME, workers=2)
    try:
        (child,) = server.worker_pids
        # WHEN 32 fresh connections each send a batch (the kernel spreads connections over the two sockets)
        # THEN all are answered, and the spawned worker did part of the work
        _burst_is_shared_with(server, child)
    finally:
        server.shutdown()
        server.server_close()
    # AND closing the server stops the worker process
    assert not Path(f"/proc/{child}").exists() or _state(child) == "Z"


def _burst_is_shared_with(server: EndpointServer, worker: int) -> None:
    """32 fresh connections each send a batch: all are answered, and ``worker`` did part of the work."""
    before = _cpu_ticks(worker)
    body = json.dumps({"instances": ["walter johnson was a baseball pitcher"] * 200}).encode()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(server.url + "/invocations", body), range(32)))
    assert all(code == 200 and answer[0]["label"] == ["__label__Athlete"] for code, answer in answers)
    assert _cpu_ticks(worker) > before


def test_a_killed_worker_is_logged_and_replaced(
    endpoint: EndpointServer, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN an endpoint with 2 worker processes
    assert endpoint.predictor is not None
    caplog.set_level(logging.INFO, logger="dbpedia")
    server = start_endpoint(endpoint.predictor, NAME, workers=2)
    try:
        (old,) = server.worker_pids
        # WHEN the spawned worker is killed
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while server.worker_pids in ([], [old]) and time.monotonic() < deadline:
            time.sleep(0.1)
        # THEN the death is logged and a new worker takes its place
        (new,) = server.worker_pids
        assert new != old and Path(f"/proc/{new}").exists()
        messages = [record.getMessage() for record in caplog.records]
        assert any(f"worker process {old} exited" in m for m in messages), messages
        assert any(f"worker process {new} replaces {old}" in m for m in messages), messages
        # AND requests on fresh connections are served by both processes again
        _burst_is_shared_with(server, new)
    finally:
        server.shutdown()
        server.server_close()
    assert not Path(f"/proc/{new}").exists() or _state(new) == "Z"


def test_an_endpoint_with_workers_does_not_join_a_port_another_server_holds(
    endpoint: EndpointServer,
) -> None:
    # GIVEN a server with workers holding a port with SO_REUSEPORT
    first = EndpointServer(("127.0.0.1", 0), endpoint.predictor, NAME, workers=2)
    try:
        # WHEN another one with workers binds the same port THEN the port is in use, as without workers
        with pytest.raises(OSError) as info:
            EndpointServer(first.server_address[:2], endpoint.predictor, NAME, workers=2)
        assert info.value.errno == errno.EADDRINUSE
    finally:
        first.server_close()


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_worker_that_cannot_load_the_model_is_a_clear_error(
    endpoint: EndpointServer, tmp_path: Path
) -> None:
    # GIVEN a model whose file vanished after it was loaded here
    assert endpoint.predictor is not None
    broken = copy.copy(endpoint.predictor)
    broken.model_bin = tmp_path / "gone.bin"
    server = EndpointServer(("127.0.0.1", 0), broken, NAME, workers=2)
    # WHEN the workers start THEN the failure is reported, and no worker is left behind
    with pytest.raises(WorkerError, match="failed to start"):
        server.start()
    server.server_close()
    assert server.worker_pids == []


class _FailingPredictor:
    """A model whose predict raises: a bug inside a request, not a bad request."""

    labels = ("__label__A", "__label__B")
    archive_sha256 = ""

    def predict(self, instances: list[str], k: int = 1) -> list[dict[str, Any]]:
        raise RuntimeError("boom")


def test_an_error_inside_a_request_is_a_500_for_that_request_only() -> None:
    server = start_endpoint(_FailingPredictor(), NAME)  # type: ignore[arg-type]
    try:
        code, answer = post(server.url + "/invocations", b'{"instances": ["a"]}')
        assert code == 500 and answer["message"] == "internal error"
        with urllib.request.urlopen(server.url + "/ping", timeout=5) as response:
            assert response.status == 200
    finally:
        server.shutdown()
        server.server_close()


JSONLINES = "application/jsonlines"


@pytest.mark.parametrize("route", ["/invocations", f"/endpoints/{NAME}/invocations"])
def test_jsonlines_is_answered_line_by_line_with_each_lines_k(endpoint: EndpointServer, route: str) -> None:
    # GIVEN three JSON lines, as Batch Transform sends them: a k, another k, and none (BlazingText's 1)
    sources = ["walter johnson was a baseball pitcher", "the danube is a river in europe", "a rock album"]
    lines = [{"source": sources[0], "k": 3}, {"source": sources[1], "k": 2}, {"source": sources[2]}]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    request = urllib.request.Request(
        endpoint.url + route, data=body, headers={"Content-Type": JSONLINES}, method="POST"
    )
    # WHEN they are posted to either route
    with urllib.request.urlopen(request, timeout=10) as response:
        media, text = response.headers["Content-Type"], response.read().decode()
    # THEN the answer is JSON lines, one per request line in order, in the container's shape
    assert media == JSONLINES and text.endswith("\n")
    answers = [json.loads(line) for line in text.splitlines()]
    assert [list(a) for a in answers] == [["prob", "label"]] * 3
    assert [len(a["label"]) for a in answers] == [3, 2, 1]
    # and each equals the JSON route's answer for the same text and k
    for source, line, answer in zip(sources, lines, answers, strict=True):
        k = line.get("k", 1)
        code, same = post(
            endpoint.url + "/invocations",
            json.dumps({"instances": [source], "configuration": {"k": k}}).encode(),
        )
        assert code == 200 and same[0] == {"label": answer["label"], "prob": answer["prob"]}


def test_boto3_sends_jsonlines_through_the_runtime_api(runtime: Any) -> None:
    body = b'{"source": "the danube is a river in europe", "k": 2}\n'
    response = runtime.invoke_endpoint(EndpointName=NAME, ContentType=JSONLINES, Accept=JSONLINES, Body=body)
    assert response["ContentType"] == JSONLINES
    answer = json.loads(response["Body"].read())
    assert answer["label"][0] == "__label__NaturalPlace" and len(answer["prob"]) == 2


@pytest.mark.parametrize(
    ("body", "accept", "status", "message"),
    [
        (b"", "", 400, "1 to"),
        (b"\n\n", "", 400, "1 to"),
        (b'{"source": "a"}\nnot json\n', "", 400, "line 2 is not valid JSON"),
        (b'["a"]\n', "", 400, 'line 1 must be {"source": string}'),
        (b'{"text": "a"}\n', "", 400, 'line 1 must be {"source": string}'),
        (b'{"source": 7}\n', "", 400, 'line 1 must be {"source": string}'),
        (b'{"source": "a", "k": 0}\n', "", 400, "line 1: k must be an integer in 1..14"),
        (b'{"source": "a"}\n{"source": "b", "k": 15}\n', "", 400, "line 2: k must be"),
        (b'{"source": "a", "k": true}\n', "", 400, "k must be an integer"),
        (b'{"source": "a", "k": "2"}\n', "", 400, "k must be an integer"),
        (b'{"source": "a"}\n' * (MAX_INSTANCES + 1), "", 400, "1 to"),
        (b"\xff\xfe", "", 400, "not UTF-8"),
        (('{"source": "a", "k": ' + HUGE + "}\n").encode(), "", 400, "not valid JSON"),
        (b'{"source": "a"}\n', "application/json", 406, "answered in application/jsonlines"),
    ],
)
def test_bad_jsonlines_requests_are_client_errors_on_both_routes(
    endpoint: EndpointServer, body: bytes, accept: str, status: int, message: str
) -> None:
    headers = {"Content-Type": JSONLINES, **({"Accept": accept} if accept else {})}
    for route in ("/invocations", f"/endpoints/{NAME}/invocations"):
        request = urllib.request.Request(endpoint.url + route, data=body, headers=headers, method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=10)
        answer = json.loads(info.value.read())
        if route == "/invocations":
            assert info.value.code == status and message in answer["message"]
        else:  # the runtime API wraps the container's refusal in a ModelError, as in AWS
            assert info.value.code == 424 and answer["OriginalStatusCode"] == status
            assert message in answer["OriginalMessage"]
