"""The page's words behind an answer, its middle band and its share link (issue 27 points 1, 2 and 4), in
headless Chromium: against the real local stack, and against a scripted API where an exact answer matters.
Each shown state is checked with axe-core (axe-playwright-python): no violation."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from ops.local.stack import LocalStack
from tests.helpers import WALTER_JOHNSON

from .conftest import Tab
from .page_actions import assert_accessible, submit, text_box, wait_until_idle
from .servers import Reply, scripted_api

pytestmark = pytest.mark.slow

HOSTILE_WORD = '<img src="x" onerror="window.__xss = 1">'
TOP = [
    {"label": "Building", "probability": 0.62},
    {"label": "NaturalPlace", "probability": 0.31},
    {"label": "Village", "probability": 0.07},
]
WEIGHTS = [("the", 0.0), ("old", 0.02), ("mill", 0.41), ("by", -0.01), ("the", 0.0), ("river", 0.004)]
EXPLAINED = {
    **TOP[0],
    "confidence": "low",
    "top": TOP,
    "explanation": [{"word": w, "weight": x} for w, x in WEIGHTS] + [{"word": HOSTILE_WORD, "weight": 0.2}],
    "explainedWords": 7,
    "words": 9,
    "instances": 8,
    "requestId": "r",
}


def test_the_words_behind_an_answer_are_marked_in_colour_and_form_and_read_out(tab: Tab) -> None:
    # GIVEN an API answering in the middle band with an explanation
    with scripted_api() as (api, url):
        api.reply = Reply.json(200, EXPLAINED)
        page = tab.page
        page.goto(url)
        # WHEN the visitor asks for the words and classifies
        page.get_by_label("Show the words behind the answer").check()
        submit(page, "the old mill by the river")
        # THEN the request asked for them
        expect(page.locator("#why")).to_be_visible()
        assert api.received[-1] == {"text": "the old mill by the river", "k": 3, "explain": True}
        # AND the answer is in the middle band: "probably X, possibly Y", on screen and for screen readers
        expect(page.locator("#eyebrow")).to_have_text("It is probably about")
        expect(page.locator("#possibly")).to_have_text("or possibly Natural place")
        expect(page.get_by_role("status")).to_have_text(
            "Result: probably Building, possibly Natural place, 62.0% confidence."
        )
        # AND the three words the answer rests on most are marked strongly (bold, underlined), one more
        # with a point or more dotted; none below a point; the markup in a word is shown as text
        strong, some = page.locator("#why-text mark.why-strong"), page.locator("#why-text mark.why-some")
        expect(strong).to_have_count(3)
        expect(some).to_have_count(0)
        words = [m.split(" (")[0] for m in strong.all_text_contents()]
        assert words == ["old", "mill", HOSTILE_WORD]  # in text order: 0.02, 0.41, 0.2
        assert page.evaluate("window.__xss") is None and page.locator("#why-text img").count() == 0
        style = strong.first.evaluate(
            "e => { const s = getComputedStyle(e); return [s.fontWeight, s.textDecorationLine]; }"
        )
        assert int(style[0]) >= 700 and "underline" in style[1]  # not colour alone
        # AND a screen reader hears each marked word's weight, and the note names the strongest words
        expect(strong.nth(1).locator(".visually-hidden")).to_have_text(" (key word, 41 points)")
        expect(page.locator("#why-note")).to_have_text(
            f"Without each of these words its probability drops most: mill (41 points), {HOSTILE_WORD} "
            "(20 points), old (2 points). Only the first 7 of its 9 words were weighed."
        )
        assert tab.page_errors == [] and tab.console_errors == []
        assert_accessible(page)
        # AND in the dark scheme too (the legend's marks sit on the muted hint text)
        page.emulate_media(color_scheme="dark")
        assert_accessible(page)


def test_without_the_box_ticked_nothing_is_asked_and_no_words_are_shown(tab: Tab) -> None:
    with scripted_api() as (api, url):
        api.reply = Reply.json(200, {**TOP[0], "confidence": "high", "top": TOP})
        page = tab.page
        page.goto(url)
        submit(page, "the old mill by the river")
        expect(page.locator("#label")).to_have_text("Building")
        assert api.received[-1] == {"text": "the old mill by the river", "k": 3}
        expect(page.locator("#why")).to_be_hidden()
        expect(page.locator("#eyebrow")).to_have_text("It is about")
        expect(page.locator("#possibly")).to_be_hidden()
        expect(page.locator("#unsure")).to_be_hidden()


def test_a_shared_link_fills_the_box_and_waits_for_classify(stack: LocalStack, tab: Tab) -> None:
    # GIVEN a link with a text in its fragment (never sent to a server)
    page = tab.page
    text = WALTER_JOHNSON + " Ünïcode & #hash?"
    page.goto(stack.site_url + "#text=" + quote(text, safe=""))
    # THEN the box holds the text, its count is updated, and nothing was sent until Classify is pressed
    expect(text_box(page)).to_have_value(text)
    expect(page.locator("#count")).to_contain_text(f"{len(text)} / ")
    expect(page.get_by_role("status")).to_have_text(
        "The text from the link is in the box. Press Classify to classify it."
    )
    page.wait_for_timeout(500)
    assert tab.posts_to(stack.site.url) == []
    assert all("#" not in r.url and "Walter" not in r.url for r in tab.requests)
    assert_accessible(page)
    # WHEN Classify is pressed THEN the real stack answers, with the explanation when asked for
    page.get_by_label("Show the words behind the answer").check()
    page.get_by_role("button", name="Classify", exact=True).click()
    expect(page.locator("#label")).to_have_text("Athlete")
    wait_until_idle(page)
    posted = json.loads(tab.posts_to(stack.site.url)[0].post_data or "")
    assert posted == {"text": text, "k": 3, "explain": True}
    expect(page.locator("#why")).to_be_visible()
    expect(page.locator("#why-text")).to_contain_text("walter perry johnson")
    assert_accessible(page)
    # WHEN the visitor edits the text THEN the address follows it, ready to be shared
    text_box(page).fill("The Danube flows through Vienna.")
    assert page.evaluate("location.hash") == "#text=" + quote("The Danube flows through Vienna.", safe="")
    # AND a link opened in the same tab fills the box again
    page.evaluate("location.hash = '#text=' + encodeURIComponent('A novel by Jane Austen.')")
    expect(text_box(page)).to_have_value("A novel by Jane Austen.")
    assert tab.page_errors == [] and tab.console_errors == []


def test_a_malformed_link_leaves_the_box_empty(stack: LocalStack, tab: Tab) -> None:
    page = tab.page
    page.goto(stack.site_url + "#text=%E0%A4%A")
    expect(page.locator("#classes li")).to_have_count(14)
    expect(text_box(page)).to_have_value("")
    assert tab.page_errors == []
