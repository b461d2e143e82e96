"""The public page in headless Chromium against a scripted API (errors, slow answers, hostile labels) and
against no API at all: what a visitor sees when the API misbehaves."""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect

from tests.helpers import WALTER_JOHNSON

from .conftest import PHONE, OpenTab, Tab
from .page_actions import (
    assert_fits_width,
    classify_button,
    no_injected_elements,
    submit,
    text_box,
    wait_until_idle,
)
from .servers import Reply, closed_port_url, scripted_api, site_for_api

pytestmark = pytest.mark.slow

HOSTILE_LABEL = '<img src="x" onerror="window.__xss = 1; alert(1)">'
HOSTILE_SCRIPT = "<script>window.__xss = 2; alert(2)</script>"


# --- no API, or a scripted one --------------------------------------------------------------------------
def test_unreachable_api_shows_a_readable_error_and_keeps_the_text(tab: Tab) -> None:
    # GIVEN the real page on an edge whose API does not listen
    with site_for_api(closed_port_url()) as site:
        page = tab.page
        page.goto(site.url + "/")
        # WHEN a text is classified  THEN the edge's 502 is shown as a problem of the classifier
        submit(page, WALTER_JOHNSON)
        status = page.get_by_role("status")
        expect(status).to_have_text("The classifier had a problem (HTTP 502). Please try again later.")
        wait_until_idle(page)
        # WHEN the page's own origin is gone too (the connection lost) and the text is sent again
        site.shutdown()
        site.server_close()
        classify_button(page).click()
        # THEN a readable error is shown, no result, the text is kept and the button is usable again
        expect(status).to_have_text(
            "The classifier cannot be reached right now. Check your connection and try again."
        )
        expect(status).to_have_class(re.compile(r"\berror\b"))
        expect(page.locator("#result")).to_be_hidden()
        expect(text_box(page)).to_have_value(WALTER_JOHNSON)
        wait_until_idle(page)
        expect(classify_button(page)).to_have_text("Classify")


@pytest.mark.parametrize(
    ("reply", "message", "reference"),
    [
        (
            Reply.json(
                503,
                {
                    "error": "endpoint_unavailable",
                    "message": "the model endpoint is unavailable or busy; try again later",
                    "requestId": "req-503",
                },
            ),
            "Sorry, that did not work: the model endpoint is unavailable or busy; try again later.",
            "Reference: req-503",
        ),
        (
            Reply(502, b"<html><body>Bad Gateway</body></html>", "text/html"),
            "The classifier had a problem (HTTP 502). Please try again later.",
            None,
        ),
        (
            Reply.json(429, {"message": "Too Many Requests"}),
            "The classifier is busy. Please try again in a moment.",
            None,
        ),
        (
            Reply.json(200, {"labels": ["Athlete"]}),
            "The classifier gave an answer this page cannot read.",
            None,
        ),
    ],
    ids=["handler-503", "gateway-502-html", "throttled-429", "200-off-contract"],
)
def test_api_failure_answers_show_a_readable_message(
    tab: Tab, reply: Reply, message: str, reference: str | None
) -> None:
    # GIVEN the real page calling an API that answers with a failure
    with scripted_api() as (api, url):
        api.reply = reply
        page = tab.page
        page.goto(url)
        # WHEN a text is classified
        submit(page, WALTER_JOHNSON)
        # THEN the failure is explained in words (with the request id when there is one), and no result shows
        status = page.get_by_role("status")
        expect(status).to_have_text(message + (f" {reference}" if reference else ""))
        expect(status).to_have_class(re.compile(r"\berror\b"))
        expect(status.locator(".reference")).to_have_count(1 if reference else 0)
        expect(page.locator("#result")).to_be_hidden()
        assert api.received == [{"text": WALTER_JOHNSON, "k": 3}]


def test_loading_state_shows_while_the_api_answers_and_blocks_a_second_request(tab: Tab) -> None:
    # GIVEN an API that holds its answer until the test releases it
    release = threading.Event()
    with scripted_api() as (api, url):
        api.reply = Reply.json(
            200,
            {"label": "Film", "probability": 0.9, "top": [{"label": "Film", "probability": 0.9}]},
            hold=release,
        )
        page = tab.page
        page.goto(url)
        # WHEN a text is sent, and Classify pressed again while waiting
        submit(page, "The Godfather is a 1972 American crime film.")
        button = classify_button(page)
        # THEN the button, the form and the status line show the wait
        expect(button).to_have_attribute("aria-disabled", "true")
        expect(button).to_have_text("Classifying…")
        expect(page.locator("#classify-form")).to_have_attribute("aria-busy", "true")
        expect(page.get_by_role("status")).to_have_text("Classifying…")
        expect(page.get_by_role("status")).to_have_class(re.compile(r"\bloading\b"))
        button.click(force=True)  # force: Playwright itself would wait for an aria-disabled button
        expect(button).to_have_text("Classifying…")
        expect(page.locator("#result")).to_be_hidden()
        # AND once the answer is released the result replaces the wait, after exactly one request
        release.set()
        expect(page.locator("#label")).to_have_text("Film")
        wait_until_idle(page)
        expect(button).to_have_text("Classify")
        expect(page.locator("#classify-form")).not_to_have_attribute("aria-busy", "true")
        assert len(api.received) == 1


def test_class_names_are_shown_in_plain_words_with_the_raw_label_kept(tab: Tab) -> None:
    # GIVEN an API answering CamelCase classes (one the page has never heard of) with low confidence (the
    # middle band: "confidence": "low")
    top = [
        {"label": "MeanOfTransportation", "probability": 0.41},
        {"label": "SpaceStation", "probability": 0.33},
        {"label": "Company", "probability": 0.26},
    ]
    with scripted_api() as (api, url):
        api.reply = Reply.json(200, {**top[0], "confidence": "low", "top": top, "requestId": "r"})
        page = tab.page
        page.goto(url)
        # WHEN a text is classified
        submit(page, "The Titanic sank in 1912.")
        # THEN the classes read as words, each keeps its raw label in a title, and the doubt is explained
        expect(page.locator("#label")).to_have_text("Means of transportation")
        expect(page.locator("#label")).to_have_attribute("title", "MeanOfTransportation")
        names = page.locator("#top .name")
        expect(names).to_have_text(["Means of transportation", "Space station", "Company"])
        assert [names.nth(i).get_attribute("title") for i in range(3)] == [t["label"] for t in top]
        expect(page.locator("#probability")).to_have_text("41.0%")
        expect(page.locator("#unsure")).to_be_visible()
        expect(page.locator("#possibly")).to_have_text("or possibly Space station")


def test_markup_in_an_api_label_shows_literally_and_runs_nothing(tab: Tab) -> None:
    # GIVEN an API whose labels carry an <img onerror> and a <script>
    top = [
        {"label": HOSTILE_LABEL, "probability": 0.7},
        {"label": HOSTILE_SCRIPT, "probability": 0.2},
        {"label": "<b>bold</b>", "probability": 0.1},
    ]
    with scripted_api() as (api, url):
        api.reply = Reply.json(200, {"label": HOSTILE_LABEL, "probability": 0.7, "top": top})
        page = tab.page
        page.goto(url)
        # WHEN a text is classified
        submit(page, WALTER_JOHNSON)
        # THEN the labels appear character for character, as text
        expect(page.locator("#label")).to_have_text(HOSTILE_LABEL)
        expect(page.locator("#top .name")).to_have_text([HOSTILE_LABEL, HOSTILE_SCRIPT, "<b>bold</b>"])
        expect(page.get_by_role("status")).to_contain_text(HOSTILE_LABEL)
        # AND no element was made from them, no script ran, no dialog opened
        page.wait_for_timeout(300)  # give an injected onerror handler the time to fire, if there were one
        assert no_injected_elements(page, "#result") == 0
        assert page.evaluate("window.__xss") is None
        assert tab.dialogs == [] and tab.page_errors == []


def test_markup_in_an_api_error_message_shows_literally_and_runs_nothing(tab: Tab) -> None:
    # GIVEN an API whose error message and request id carry markup
    message = f"bad text {HOSTILE_LABEL} {HOSTILE_SCRIPT}"
    with scripted_api() as (api, url):
        api.reply = Reply.json(400, {"error": "bad_request", "message": message, "requestId": "<b>id</b>"})
        page = tab.page
        page.goto(url)
        # WHEN a text is classified
        submit(page, WALTER_JOHNSON)
        # THEN the message and reference appear as text
        status = page.get_by_role("status")
        expect(status).to_have_text(f"Sorry, that did not work: {message}. Reference: <b>id</b>")
        # AND no element was made from them, no script ran, no dialog opened
        page.wait_for_timeout(300)  # give an injected onerror handler the time to fire, if there were one
        assert no_injected_elements(page, "#status") == 0
        assert page.evaluate("window.__xss") is None
        assert tab.dialogs == [] and tab.page_errors == []


def test_long_unbroken_api_text_wraps_on_a_phone(open_tab: OpenTab) -> None:
    # GIVEN a phone screen and an API answering a 120-character label and a long unbroken error later
    tab = open_tab(PHONE, is_mobile=True, has_touch=True)
    long_label = "supercalifragilistic" * 6
    with scripted_api() as (api, url):
        api.reply = Reply.json(200, {"label": long_label, "probability": 1, "top": [{"label": long_label}]})
        page = tab.page
        page.goto(url)
        # WHEN it is shown
        submit(page, WALTER_JOHNSON)
        expect(page.locator("#label")).to_have_text(long_label)
        # THEN it wraps inside the screen
        assert_fits_width(page, PHONE["width"])
        # WHEN an error with a long unbroken word follows
        api.reply = Reply.json(503, {"message": "x" * 250})
        wait_until_idle(page)
        page.get_by_role("button", name="Classify", exact=True).tap()
        expect(page.get_by_role("status")).to_contain_text("x" * 50)
        # THEN it wraps too
        assert_fits_width(page, PHONE["width"])
