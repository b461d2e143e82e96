"""`invoke up`'s feedback: the page's origin forwards POST /feedback to the real handler, which stores it with
its one code path (boto3's put_object) in the emulated S3 `invoke up` starts (moto); the stack downloads it
into build/feedback/, where `invoke feedback` summarises it."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ml import feedback
from ml.pipeline import TrainOutcome
from ops.infra.moto_server import MotoServer
from ops.local.stack import LocalStack, feedback_bucket, start_stack
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON, run_invoke

BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11) FeedbackTest",
    "Cookie": "visitor=42",
    "X-Forwarded-For": "198.51.100.9",
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def running(trained: tuple[Settings, TrainOutcome], emulator: MotoServer) -> Iterator[LocalStack]:
    with start_stack(trained[0], ephemeral_ports=True, feedback_s3=emulator.url) as stack:
        yield stack


def post(stack: LocalStack, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        stack.site.url + "/feedback",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **BROWSER},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def objects(stack: LocalStack, emulator: MotoServer) -> dict[str, str]:
    """Every object in the local feedback bucket, read from the emulator directly."""
    s3 = emulator.client("s3")
    bucket = feedback_bucket(stack.settings)  # type: ignore[arg-type]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode() for key in keys}


def test_feedback_through_the_local_edge_is_stored_in_the_emulator_only_with_consent(
    running: LocalStack, emulator: MotoServer
) -> None:
    label = running.endpoint.predictor.labels[0] if running.endpoint.predictor else ""  # a label of the model
    label = label.removeprefix("__label__")
    item = {"text": WALTER_JOHNSON, "predicted": label, "correct": label, "consent": True}
    item["modelSha256"] = running.site.model_sha256
    before = objects(running, emulator)
    # GIVEN a browser's request without consent  THEN a 400 and nothing stored
    status, body = post(running, {**item, "consent": False})
    assert (status, body["error"]) == (400, "no_consent") and objects(running, emulator) == before
    # WHEN it comes with consent  THEN it is in the emulator's bucket, without IP, user agent or cookie
    status, body = post(running, item)
    assert status == 201, body
    [new] = [text for key, text in objects(running, emulator).items() if key not in before]
    for identifying in ("198.51.100.9", "127.0.0.1", "Mozilla", "visitor=42"):
        assert identifying not in new
    # AND the stack downloads it into build/feedback/, where the summary counts it
    running.keep_feedback()
    folder = feedback.folder_of(running.settings.build_dir)  # type: ignore[union-attr]
    assert body["ids"][0] in {i.id for i in feedback.items(folder)}
    assert feedback.summary(folder)["items"] >= 1


def test_the_page_is_told_feedback_is_on_and_which_model_it_is_about(running: LocalStack) -> None:
    with urllib.request.urlopen(running.site.url + "/config.js", timeout=10) as response:
        config = response.read().decode()
    assert f'feedback: true, modelSha256: "{running.endpoint.predictor.archive_sha256}"' in config  # type: ignore[union-attr]


def test_without_an_emulator_or_with_feedback_off_the_route_answers_404(
    trained: tuple[Settings, TrainOutcome], emulator: MotoServer
) -> None:
    for settings, s3 in ((trained[0], ""), (trained[0].replace(feedback=False), emulator.url)):
        with start_stack(settings, ephemeral_ports=True, feedback_s3=s3) as stack:
            assert post(stack, {"consent": True})[0] == 404
            with urllib.request.urlopen(stack.site.url + "/config.js", timeout=10) as response:
                assert "feedback: false" in response.read().decode()


def test_invoke_feedback_summarises_what_was_downloaded(tmp_path: Any) -> None:
    # GIVEN one downloaded item in a build folder  WHEN `invoke feedback` runs there, as a user would
    folder = feedback.folder_of(tmp_path)
    item = {"id": "f00d", "received": "2026-12-07T10:00:00Z", "text": WALTER_JOHNSON, "predicted": "Company"}
    feedback.item_path(folder, "f00d").parent.mkdir(parents=True)
    stored = {**item, "correct": "Athlete", "modelSha256": "ab" * 32}
    feedback.item_path(folder, "f00d").write_text(json.dumps(stored), encoding="utf-8")
    env = {**os.environ, "DBP_BUILD_DIR": str(tmp_path)}
    summary = run_invoke(env, "feedback")
    # THEN it counts the pair and shows the text; a review by id is kept, an unknown id is one line and exit 1
    assert (
        summary.returncode == 0 and "Company -> Athlete: 1" in summary.stdout and "Walter" in summary.stdout
    )
    reviewed = run_invoke(env, "feedback", "--review", "--accept", "f00d")
    assert reviewed.returncode == 0 and feedback.reviews(folder)["f00d"]["decision"] == "accept"
    unknown = run_invoke(env, "feedback", "--review", "--reject", "nope")
    assert unknown.returncode == 1 and unknown.stderr.strip().startswith("error: no downloaded feedback item")
    assert "Traceback" not in unknown.stderr
    # AND a decision given without --review is a review too, not dropped behind a summary
    alone = run_invoke(env, "feedback", "--reject", "f00d")
    assert alone.returncode == 0 and feedback.reviews(folder)["f00d"]["decision"] == "reject"
