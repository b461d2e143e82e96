"""The page's "About this model" link opens the live version's model card, served with the site
(ops/local/site.py here, terraform/site.tf on AWS), in headless Chromium against the local stack."""

from __future__ import annotations

from playwright.sync_api import expect

from ml.pipeline import TrainOutcome
from ops.local.stack import LocalStack
from ops.settings import Settings

from .conftest import Tab
from .page_actions import assert_accessible


def test_about_this_model_opens_the_live_version_s_card(
    stack: LocalStack, tab: Tab, trained: tuple[Settings, TrainOutcome]
) -> None:
    # GIVEN the page served by the local stack
    page = tab.page
    page.goto(stack.site_url)
    # WHEN its "About this model" link is followed
    with page.expect_response(lambda r: r.url.endswith("/model-card.html")) as answer:
        page.get_by_role("link", name="About this model").click()
    # THEN the browser shows the deployed version's card as a page: its heading, its metric tables and its
    # limits, styled by the site's style sheet (under the site's content security policy), and a way back
    version = trained[1].archive.parent.name
    expect(page.get_by_role("heading", level=1)).to_have_text(f"About this model (version {version})")
    expect(page.get_by_role("heading", name="Test accuracy by slice")).to_be_visible()
    expect(page.get_by_role("row", name="first_sentence")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="English only")).to_be_visible()
    assert page.locator("table").first.evaluate("t => getComputedStyle(t).borderCollapse") == "collapse"
    response = answer.value
    assert response.status == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "content-security-policy" in response.headers
    assert tab.page_errors == []
    assert_accessible(page)
    page.get_by_role("link", name="Back to the classifier").click()
    expect(page.get_by_role("link", name="About this model")).to_be_visible()
