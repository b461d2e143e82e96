"""What a visitor does on the page, and what the tests measure of it, for the browser tests."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect


def text_box(page: Page) -> Locator:
    return page.get_by_label("Your text")


def classify_button(page: Page) -> Locator:
    return page.locator("#classify")


def submit(page: Page, text: str) -> None:
    """Fill the text box and click Classify."""
    text_box(page).fill(text)
    page.get_by_role("button", name="Classify", exact=True).click()


def wait_until_idle(page: Page) -> None:
    expect(classify_button(page)).to_have_attribute("aria-disabled", "false")


def percent_value(shown: str) -> float:
    """ "97.3%" -> 97.3; "<0.1%" -> 0.0; ">99.9%" -> 100.0."""
    bounds = {"<": 0.0, ">": 100.0}
    return bounds[shown[0]] if shown[0] in bounds else float(shown.rstrip("%"))


def assert_fits_width(page: Page, width: int) -> None:
    """Nothing is wider than the viewport: the document does not scroll sideways and no element sticks out.

    Elements inside a clipping box (like the visually hidden status line) cannot stick out: left out.
    """
    sizes = page.evaluate(
        """() => {
            const clipped = (e) => {
                for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
                    if (getComputedStyle(a).overflowX !== "visible") return true;
                }
                return false;
            };
            return {
                scroll: document.documentElement.scrollWidth,
                client: document.documentElement.clientWidth,
                widest: Math.max(...[...document.querySelectorAll("body *")]
                    .filter((e) => e.getClientRects().length && !clipped(e))
                    .map((e) => e.getBoundingClientRect().right)),
            };
        }"""
    )
    assert sizes["client"] == width
    assert sizes["scroll"] <= width, sizes
    assert sizes["widest"] <= width + 0.5, sizes


def no_injected_elements(page: Page, container: str) -> int:
    """How many elements API text could have created inside ``container`` (none, when it is set as text)."""
    return page.locator(f"{container} img, {container} script, {container} b").count()


def assert_accessible(page: Page) -> None:
    """axe-core (axe-playwright-python) finds no violation on the page as it is shown now."""
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
