"""The page of a model trained on the user's own labels (issue 26), in headless Chromium over the real local
stack: its topic list, descriptions and example buttons are the deployed version's labels.json, and the
answers name the user's labels."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ops.local.stack import LocalStack

from .conftest import Tab

pytestmark = pytest.mark.slow


def test_the_page_lists_the_users_labels_and_its_examples_classify_as_them(
    own_stack: LocalStack, tab: Tab
) -> None:
    # GIVEN the page of the stack serving the three-label model, whose labels.json names two of them
    page = tab.page
    page.goto(own_stack.site_url)
    # THEN the topic list is the model's labels with labels.json's names and descriptions, and its noun
    expect(page.locator("#topics-heading")).to_have_text("The 3 genres it knows")
    items = page.locator("#classes li")
    expect(items).to_have_count(3)
    assert [" ".join(t.split()) for t in items.all_text_contents()] == [
        "100% sport",
        "Science Fiction starships and aliens",
        "Cooking recipes and kitchens",
    ]
    assert page.locator(".example").all_inner_texts() == ["A recipe", "Science Fiction"]
    # WHEN an example is clicked  THEN the model's answer is shown by the user's name for its label
    page.get_by_role("button", name="A recipe", exact=True).click()
    expect(page.locator("#label")).to_have_text("Cooking")
    expect(page.locator("#label")).to_have_attribute("title", "cooking")
    page.get_by_role("button", name="Science Fiction", exact=True).click()
    expect(page.locator("#label")).to_have_text("Science Fiction")
    expect(page.locator("#top li")).to_have_count(3)
