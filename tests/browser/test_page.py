"""The public page in headless Chromium over real HTTP, against the local stack (real Lambda handler and
model); test_page_scripted_api.py has it against a scripted API and against none.

``UPDATE_SCREENSHOT=1`` makes the Walter Johnson test also refresh the README's docs/screenshot.png.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from ml import data
from ml.config import ROOT
from ml.pipeline import TrainOutcome
from ops.local.site import security_headers
from ops.local.stack import LocalStack
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON

from .conftest import ARTIFACTS, PHONE, OpenTab, Tab, save_screenshot
from .page_actions import (
    assert_fits_width,
    classify_button,
    percent_value,
    submit,
    text_box,
    wait_until_idle,
)

pytestmark = pytest.mark.slow

# What each example button is about, by the button's name (the sample-trained model is >= 0.99 sure of each).
EXAMPLES = {
    "A painter": "Artist",
    "A mountain": "Natural place",
    "A ship": "Means of transportation",
    "A novel": "Written work",
    "A president": "Office holder",
}


# --- the real stack -------------------------------------------------------------------------------------
# What a DBPedia user saw before the page took its labels from the deployed version (issue 26): recorded
# from the page of commit ada4b8d, whose markup hard-coded the 14 topics and the example buttons.
SEEN_BEFORE = json.loads(
    (ROOT / "tests" / "browser" / "dbpedia_page_before.json").read_text(encoding="utf-8")
)
SEEN = """() => {
    const norm = (s) => s.replace(/\\s+/g, " ").trim();
    return {
        main: norm(document.querySelector("main").textContent),
        footer: norm(document.querySelector("footer").textContent),
        links: [...document.querySelectorAll("a")].map((a) => [a.textContent, a.href]),
        examples: [...document.querySelectorAll(".example")].map((b) => [b.textContent, b.dataset.text]),
        classes: [...document.querySelectorAll("#classes li")]
            .map((li) => [li.dataset.label, norm(li.textContent)]),
        placeholder: document.querySelector("#text").placeholder,
        fieldsetHidden: document.querySelector(".examples").hidden,
    };
}"""


EXPLAIN_TOGGLE = "Show the words behind the answer"
WHY_SECTION = (
    "Why ? Marked words raise the answer: bold, underlined the three it rests on most, dotted the others. "
    "The words are shown as the model reads them (lower case, digits as 0)."
)


def test_a_dbpedia_model_shows_exactly_the_page_it_showed_before(stack: LocalStack, tab: Tab) -> None:
    # GIVEN the local stack serving the model trained on DBPedia's sample (its version's page.json)
    tab.page.goto(stack.site_url)
    # WHEN the page has rendered the deployed version's labels
    expect(tab.page.locator("#classes li")).to_have_count(14)
    # THEN its text, topic list, descriptions, example buttons, placeholder and attribution are as before,
    # and the footer ends with the one link added since: the live version's model card (issue 27)
    card = ["About this model", stack.site_url.rstrip("/") + "/model-card.html"]
    # AND the main part gained only the words behind an answer, on request (issue 27; hidden until asked)
    main = SEEN_BEFORE["main"].replace(" Classify Or try", f" Classify {EXPLAIN_TOGGLE} Or try", 1)
    main = main.replace(" Closest topics ", f" Closest topics {WHY_SECTION} ", 1)
    expected = {
        **SEEN_BEFORE,
        "main": main,
        "footer": SEEN_BEFORE["footer"] + " About this model",
        "links": [*SEEN_BEFORE["links"], card],
    }
    assert tab.page.evaluate(SEEN) == expected


def test_walter_johnson_text_is_classified_as_athlete_with_probability_and_runner_up_bars(
    stack: LocalStack, tab: Tab
) -> None:
    # GIVEN the page served by the local stack (real API, real Lambda handler, real model)
    page = tab.page
    page.goto(stack.site_url)
    # WHEN the seed's Walter Johnson text is typed and Classify is clicked
    text_box(page).press_sequentially(WALTER_JOHNSON)
    page.get_by_role("button", name="Classify", exact=True).click()
    # THEN the answer is "Athlete" with its probability, and the raw class stays in a title attribute
    label = page.locator("#label")
    expect(label).to_have_text("Athlete")
    expect(label).to_have_attribute("title", "Athlete")
    probability = page.locator("#probability")
    expect(probability).to_have_text(re.compile(r"^[<>]?\d{1,3}\.\d%$"))
    expect(page.locator("#unsure")).to_be_hidden()
    # AND the top three classes are listed best first, each with a bar as long as its probability
    rows = page.locator("#top li")
    expect(rows).to_have_count(3)
    names = rows.locator(".name").all_text_contents()
    shown = [percent_value(t) for t in rows.locator(".pct").all_text_contents()]
    fractions = rows.locator(".fill").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().width / e.parentElement.getBoundingClientRect().width)"
    )
    assert names[0] == "Athlete" and len(set(names)) == 3, names
    assert shown == sorted(shown, reverse=True) and shown[0] == percent_value(probability.inner_text())
    assert fractions[0] == pytest.approx(shown[0] / 100, abs=0.01)
    assert fractions[0] > fractions[1] >= fractions[2]
    # AND screen readers hear the result; one request following the contract was sent; nothing went wrong
    expect(page.get_by_role("status")).to_have_text(
        f"Result: Athlete, {probability.inner_text()} confidence."
    )
    posts = tab.posts_to(stack.site.url)
    assert len(posts) == 1 and json.loads(posts[0].post_data or "") == {"text": WALTER_JOHNSON, "k": 3}
    assert tab.console_errors == [] and tab.page_errors == []
    save_screenshot(page, ARTIFACTS / "desktop-result.png")
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        page.locator("main").screenshot(path=str(ROOT / "docs" / "screenshot.png"))


@pytest.mark.parametrize("text", ["asdfgh qwerty zxcvb", "富士山は日本で最も高い山です。"])
def test_text_the_model_cannot_judge_shows_i_cant_tell_with_the_reason_not_a_topic(
    stack: LocalStack, tab: Tab, text: str
) -> None:
    # GIVEN the page on the local stack  WHEN text of words the model never learned is classified
    page = tab.page
    page.goto(stack.site_url)
    submit(page, text)
    # THEN it says it cannot tell, with the API's reason, and shows no topic
    unknown = page.locator("#unknown")
    expect(unknown).to_be_visible()
    expect(unknown.get_by_role("heading")).to_have_text("I can't tell what this is about")
    expect(page.locator("#reason")).to_have_text(
        re.compile(r"^It reads like conversation, a request, a program's message, code or markup")
    )
    expect(page.locator("#result")).to_be_hidden()
    expect(page.get_by_role("status")).to_contain_text("I can't tell what this is about.")
    save_screenshot(page, ARTIFACTS / "cannot-tell.png")
    # AND a real sentence afterwards shows its topic again, and the "can't tell" card goes
    submit(page, WALTER_JOHNSON)
    expect(page.locator("#label")).to_have_text("Athlete")
    expect(unknown).to_be_hidden()
    assert tab.console_errors == [] and tab.page_errors == []


@pytest.mark.parametrize("blank", ["", "  \n\t  "], ids=["empty", "whitespace"])
def test_empty_input_shows_a_readable_message_and_sends_no_request(
    stack: LocalStack, tab: Tab, blank: str
) -> None:
    # GIVEN the page on the local stack
    page = tab.page
    page.goto(stack.site_url)
    # WHEN Classify is clicked with nothing but blanks in the text box
    submit(page, blank)
    # THEN a readable error is shown, the text box is marked invalid and focused, and no result appears
    status = page.get_by_role("status")
    expect(status).to_have_text("Type a sentence to classify first.")
    expect(status).to_have_class(re.compile(r"\berror\b"))
    expect(text_box(page)).to_have_attribute("aria-invalid", "true")
    expect(text_box(page)).to_be_focused()
    expect(page.locator("#result")).to_be_hidden()
    # WHEN a sentence is then typed and sent
    text_box(page).fill("Mount Everest is the highest mountain on Earth.")
    expect(status).to_have_text("")
    page.get_by_role("button", name="Classify", exact=True).click()
    # THEN it is classified, and it was the only request the page ever sent
    expect(page.locator("#label")).to_have_text("Natural place")
    expect(text_box(page)).not_to_have_attribute("aria-invalid", "true")
    assert len(tab.posts_to(stack.site.url)) == 1


def test_too_long_input_is_refused_by_the_page_and_text_at_the_limit_is_classified(
    stack: LocalStack, trained: tuple[Settings, TrainOutcome], tab: Tab
) -> None:
    # GIVEN the page on the local stack, and texts of exactly the API's limit and one character more: real
    # athletes' abstracts one after another (one sentence repeated reads to the learned rule as no topic)
    settings = trained[0]
    limit = settings.max_text_chars
    dataset = data.resolve_dataset(settings)
    athlete = dataset.classes.index("Athlete")
    rows = [r.content for r in data.make_splits(dataset, settings).validation if r.label == athlete]
    at_limit = " ".join([WALTER_JOHNSON, *rows])[: limit - 1] + "."
    too_long = at_limit + "!"
    page = tab.page
    page.goto(stack.site_url)
    # WHEN the over-long text is entered
    text_box(page).fill(too_long)
    # THEN the counter flags it, and Classify gives a readable message instead of a request
    count = page.locator("#count")
    expect(count).to_have_text(f"{limit + 1:,} / {limit:,} characters")
    expect(count).to_have_class(re.compile(r"\bover\b"))
    page.get_by_role("button", name="Classify", exact=True).click()
    status = page.get_by_role("status")
    expect(status).to_have_text(
        f"Your text has {limit + 1:,} characters; the limit is {limit:,}. Please shorten it."
    )
    expect(text_box(page)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#result")).to_be_hidden()
    # WHEN it is cut to the limit and sent
    text_box(page).fill(at_limit)
    expect(count).not_to_have_class(re.compile(r"\bover\b"))
    page.get_by_role("button", name="Classify", exact=True).click()
    # THEN the real API accepts and classifies it, and that was the only request sent
    expect(page.locator("#label")).to_have_text("Athlete")
    posts = tab.posts_to(stack.site.url)
    assert len(posts) == 1 and len(json.loads(posts[0].post_data or "")["text"]) == limit


def test_each_example_button_fills_the_text_box_and_classifies_it(stack: LocalStack, tab: Tab) -> None:
    # GIVEN the page on the local stack
    page = tab.page
    page.goto(stack.site_url)
    buttons = page.locator(".example")
    assert buttons.all_inner_texts() == list(EXAMPLES)
    for name, topic in EXAMPLES.items():
        button = page.get_by_role("button", name=name, exact=True)
        # WHEN an example is clicked
        button.click()
        # THEN its text is in the text box and the model's answer is its topic
        expect(text_box(page)).to_have_value(button.get_attribute("data-text") or "<no data-text>")
        expect(page.locator("#label")).to_have_text(topic)
        wait_until_idle(page)
    assert len(tab.posts_to(stack.site.url)) == len(EXAMPLES)


@pytest.mark.parametrize("keys", ["Control+Enter", "Meta+Enter"])
def test_ctrl_or_cmd_enter_in_the_text_box_classifies_while_enter_alone_adds_a_line(
    stack: LocalStack, tab: Tab, keys: str
) -> None:
    # GIVEN the Walter Johnson text in the text box
    page = tab.page
    page.goto(stack.site_url)
    text_box(page).fill(WALTER_JOHNSON)
    # WHEN Enter alone is pressed at its end
    text_box(page).press("End")
    text_box(page).press("Enter")
    # THEN a new line is started and nothing is sent
    expect(text_box(page)).to_have_value(WALTER_JOHNSON + "\n")
    # WHEN the shortcut is pressed
    text_box(page).press(keys)
    # THEN the text is classified, with one request
    expect(page.locator("#label")).to_have_text("Athlete")
    assert len(tab.posts_to(stack.site.url)) == 1


def test_keyboard_alone_reaches_the_text_box_and_the_button_with_a_visible_focus_ring(
    stack: LocalStack, tab: Tab
) -> None:
    # GIVEN the freshly loaded page
    page = tab.page
    page.goto(stack.site_url)
    # WHEN Tab is pressed, text typed, and Tab pressed again
    page.keyboard.press("Tab")
    expect(text_box(page)).to_be_focused()
    page.keyboard.type("Abraham Lincoln was the 16th president of the United States.")
    page.keyboard.press("Tab")
    # THEN the Classify button has the focus, drawn as a visible outline
    button = classify_button(page)
    expect(button).to_be_focused()
    outline = button.evaluate(
        "e => [getComputedStyle(e).outlineStyle, parseFloat(getComputedStyle(e).outlineWidth)]"
    )
    assert outline[0] != "none" and outline[1] >= 2, outline
    # WHEN Enter is pressed on it
    page.keyboard.press("Enter")
    # THEN the text is classified and the focus stays on the button (it is never disabled under the user)
    expect(page.locator("#label")).to_have_text("Office holder")
    expect(button).to_be_focused()


@pytest.mark.parametrize("width", [320, PHONE["width"]])
def test_phone_width_shows_the_result_without_horizontal_overflow(
    stack: LocalStack, open_tab: OpenTab, width: int
) -> None:
    # GIVEN a phone-sized touch screen
    tab = open_tab({"width": width, "height": PHONE["height"]}, is_mobile=True, has_touch=True)
    page = tab.page
    page.goto(stack.site_url)
    assert_fits_width(page, width)
    # WHEN the Walter Johnson text is classified
    text_box(page).fill(WALTER_JOHNSON)
    page.get_by_role("button", name="Classify", exact=True).tap()
    # THEN the result is shown and still nothing is wider than the screen
    expect(page.locator("#label")).to_have_text("Athlete")
    expect(page.locator("#top li")).to_have_count(3)
    assert_fits_width(page, width)
    save_screenshot(page, ARTIFACTS / f"phone-{width}-result.png")


def test_page_fetches_nothing_from_any_other_origin(stack: LocalStack, tab: Tab) -> None:
    # GIVEN the page on the local stack
    page = tab.page
    # WHEN it loads, a class is looked up, and the topic list is opened
    page.goto(stack.site_url)
    submit(page, WALTER_JOHNSON)
    expect(page.locator("#label")).to_have_text("Athlete")
    page.get_by_text("The 14 topics it knows").click()
    expect(page.locator("#classes li")).to_have_count(14)
    # THEN every request went to the site itself, /classify included: no other origin, so no CORS preflight
    origins = {f"{urlsplit(r.url).scheme}://{urlsplit(r.url).netloc}" for r in tab.requests}
    assert origins == {stack.site.url}
    assert [r for r in tab.requests if r.method == "OPTIONS"] == []
    # AND the site's own files all loaded
    paths = {urlsplit(r.url).path for r in tab.requests if r.url.startswith(stack.site.url)}
    assert {"/", "/style.css", "/config.js", "/app.js", "/favicon.svg"} <= paths


def test_the_page_and_its_api_answers_carry_the_edge_security_headers(stack: LocalStack, tab: Tab) -> None:
    """The local edge sends terraform/security-headers.json, the definition CloudFront's policy is made of."""
    expected = security_headers()
    page = tab.page
    # WHEN the page loads and classifies
    with page.expect_response(lambda r: r.url == stack.site_url) as document:
        page.goto(stack.site_url)
    with page.expect_response(lambda r: r.url == stack.site.url + "/classify") as answer:
        submit(page, WALTER_JOHNSON)
    expect(page.locator("#label")).to_have_text("Athlete")
    # THEN both carry every security header: HSTS, a CSP that lets the page reach only its own origin and
    # be framed by nobody, nosniff, DENY, a referrer policy; and the page ran under it without a violation
    for response in (document.value, answer.value):
        headers = response.all_headers()
        assert {name.lower(): value for name, value in expected.items()}.items() <= headers.items()
    csp = expected["Content-Security-Policy"]
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert expected["X-Content-Type-Options"] == "nosniff"
    assert expected["Strict-Transport-Security"].startswith("max-age=")
    assert tab.console_errors == [] and tab.page_errors == []
