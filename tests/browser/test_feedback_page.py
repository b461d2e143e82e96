"""Feedback on the page (site/feedback.js), in headless Chromium against the local stack with its emulated S3
(`invoke up`'s): Right / Wrong? Pick the topic under an answer, sent only after the consent box is ticked,
kept by the Lambda's own route and downloaded into build/feedback/; --no-feedback shows none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from ml import feedback
from ml.pipeline import TrainOutcome
from ops.infra.moto_server import MotoServer
from ops.local.stack import LocalStack, start_stack
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON

from .conftest import Tab
from .page_actions import assert_accessible, submit, wait_until_idle


@pytest.fixture(scope="module")
def feedback_stack(trained: tuple[Settings, TrainOutcome]) -> Iterator[LocalStack]:
    """The local stack as `invoke up` starts it: with moto's S3 for feedback."""
    with MotoServer() as s3:
        running = start_stack(trained[0], ephemeral_ports=True, feedback_s3=s3.url)
        yield running
        running.close()


def feedback_posts(tab: Tab) -> list[str]:
    return [r.url for r in tab.requests if r.method == "POST" and r.url.endswith("/feedback")]


def test_feedback_is_sent_only_with_consent_and_kept_as_the_visitor_chose(
    feedback_stack: LocalStack, tab: Tab
) -> None:
    page = tab.page
    page.goto(feedback_stack.site_url)
    folder = feedback.folder_of(feedback_stack.settings.build_dir)  # type: ignore[union-attr]
    before = {item.id for item in feedback.items(folder)}
    # GIVEN an answer on the page
    submit(page, WALTER_JOHNSON)
    wait_until_idle(page)
    shown = page.locator("#label").get_attribute("data-label")
    section = page.locator("#feedback")
    expect(section).to_be_visible()
    assert_accessible(page)  # the consent box, the buttons, the topic list: axe finds nothing
    # WHEN the visitor presses Right without ticking the consent box
    section.get_by_role("button", name="Right").click()
    # THEN nothing is sent, and the page says why
    expect(page.locator("#feedback-status")).to_contain_text("nothing was sent")
    assert feedback_posts(tab) == []
    assert_accessible(page)
    # WHEN they tick it and say Right  THEN it is kept, as the answer they saw
    page.get_by_label("Keep my text and my answer").check()
    with page.expect_response(lambda r: r.url.endswith("/feedback")) as answer:
        section.get_by_role("button", name="Right").click()
    assert answer.value.status == 201
    expect(page.locator("#feedback-status")).to_contain_text("Thank you")
    # AND a correction on a new answer is kept with the topic they picked from the model's labels
    submit(page, WALTER_JOHNSON)
    wait_until_idle(page)
    page.get_by_label("Wrong? Pick the topic").select_option("Film")
    with page.expect_response(lambda r: r.url.endswith("/feedback")):
        section.get_by_role("button", name="Send").click()
    expect(page.locator("#feedback-status")).to_contain_text("Thank you")
    assert_accessible(page)
    assert feedback_stack.keep_feedback() == 2  # what `invoke up` does every minute and at Ctrl-C
    new = [item for item in feedback.items(folder) if item.id not in before]
    assert sorted((i.predicted, i.correct, i.text) for i in new) == sorted(
        [(shown, shown, WALTER_JOHNSON), (shown, "Film", WALTER_JOHNSON)]
    )
    assert {i.model_sha256 for i in new} == {feedback_stack.endpoint.predictor.archive_sha256}  # type: ignore[union-attr]
    assert tab.page_errors == [] and tab.console_errors == []


def test_without_feedback_the_page_shows_no_buttons_and_the_route_answers_404(
    trained: tuple[Settings, TrainOutcome], tab: Tab
) -> None:
    # GIVEN `invoke up --no-feedback`
    with (
        MotoServer() as s3,
        start_stack(trained[0].replace(feedback=False), ephemeral_ports=True, feedback_s3=s3.url) as running,
    ):
        page = tab.page
        page.goto(running.site_url)
        # WHEN an answer is shown  THEN there is no feedback under it
        submit(page, WALTER_JOHNSON)
        wait_until_idle(page)
        expect(page.locator("#result")).to_be_visible()
        assert page.locator("#feedback").count() == 0
        # AND the route answers 404 to whoever posts anyway
        status = page.evaluate(
            """async () => (await fetch("/feedback", {method: "POST", headers: {"Content-Type":
            "application/json"}, body: JSON.stringify({text: "x", predicted: "Film", correct: "Film",
            modelSha256: "ab".repeat(32), consent: true})})).status"""
        )
        assert status == 404
