"""The words behind an answer and the middle band on the local stack (issue 27 points 1 and 2): through the
local API over real HTTP (the real handler and endpoint), and `invoke classify --explain` in bulk."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ml.pipeline import TrainOutcome
from ml.records import ClassifyError, InputSpec
from ops.local.bulk import classify
from ops.local.endpoint import EndpointServer
from ops.local.stack import LocalStack, start_stack
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON, run_invoke

from .bulk_inputs import DANUBE, read_lines, write_jsonl


@pytest.fixture(scope="module")
def stack(trained: tuple[Settings, TrainOutcome]) -> Iterator[LocalStack]:
    with start_stack(trained[0], ephemeral_ports=True) as running:
        yield running


def post(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(payload).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def test_the_local_api_explains_on_request_and_says_how_confident_it_is(
    stack: LocalStack, trained: tuple[Settings, TrainOutcome]
) -> None:
    url = stack.api.url + "/classify"
    plain = post(url, {"text": WALTER_JOHNSON})
    body = post(url, {"text": WALTER_JOHNSON, "explain": True})
    assert (plain["label"], plain["confidence"]) == ("Athlete", "high") and "explanation" not in plain
    n = body["explainedWords"]
    assert 1 < n <= trained[0].explain_max_words and body["instances"] == n + 1
    assert [w["word"] for w in body["explanation"]][:2] == ["walter", "perry"]
    assert all(isinstance(w["weight"], float) for w in body["explanation"])


def test_classify_explain_adds_the_lambda_s_explanation_to_each_line(
    settings: Settings, tmp_path: Path
) -> None:
    # GIVEN texts, one without a word
    items = [{"id": "wj", "text": WALTER_JOHNSON}, {"id": "d", "text": DANUBE}, {"id": "x", "text": "?!"}]
    source = write_jsonl(tmp_path / "in.jsonl", items)
    # WHEN classified with and without --explain (at most 6 words each)
    explaining = settings.replace(explain_max_words=6)
    classify(explaining, source, tmp_path / "why.jsonl", InputSpec(), explain=True)
    classify(explaining, source, tmp_path / "plain.jsonl", InputSpec())
    why, plain = read_lines(tmp_path / "why.jsonl"), read_lines(tmp_path / "plain.jsonl")
    # THEN the same answers, each text with words explained for its first 6 words in 7 instances
    assert [(w["id"], w["label"], w["probability"]) for w in why] == [
        (p["id"], p["label"], p["probability"]) for p in plain
    ]
    for line in why[:2]:
        assert (line["explainedWords"], line["instances"], len(line["explanation"])) == (6, 7, 6)
        assert len(line["top"]) == settings.top_k
    assert "explanation" not in why[2] and why[2]["label"] is None
    assert all("explanation" not in line for line in plain)
    # AND the provenance says so: the plain output is not the explained one
    assert json.loads((tmp_path / "why.jsonl.key").read_text())["explain_words"] == 6
    with pytest.raises(ClassifyError, match="another --explain"):
        classify(explaining, source, tmp_path / "plain.jsonl", InputSpec(), explain=True)


def test_cli_classify_explain(
    trained: tuple[Settings, TrainOutcome], endpoint: EndpointServer, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DBP_BUILD_DIR": str(trained[0].build_dir),
        "DBP_ENDPOINT_PORT": str(endpoint.server_address[1]),
    }
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": WALTER_JOHNSON}])
    out = tmp_path / "out.jsonl"
    done = run_invoke(env, "classify", str(source), str(out), "--explain", "--explain-max-words", "3")
    assert done.returncode == 0, done.stderr
    assert [len(line["explanation"]) for line in read_lines(out)] == [3]
    bad = run_invoke(env, "classify", str(source), str(out), "--explain-max-words", "0")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "explain" in bad.stderr
