"""Fixtures for the browser tests: Debian's Chromium, driven by Playwright, against real local HTTP servers.

Chromium is ``/usr/bin/chromium`` (Debian's ``chromium`` package; Playwright's own browser download does not
work here). Where it is missing the tests skip with the reason, and fail instead under CI=true, where a skip
would hide that nothing was tested. Screenshots go to ``build/test-artifacts/``; a failing test leaves one
of its page there too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect, sync_playwright

from ml.config import ROOT
from ml.pipeline import TrainOutcome
from ops.local.stack import LocalStack, start_stack
from ops.settings import Settings
from tests.helpers import in_ci

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "build" / "test-artifacts"
DESKTOP = {"width": 1024, "height": 800}
PHONE = {"width": 375, "height": 700}

expect.set_options(timeout=15_000)


@dataclass
class Tab:
    """A page in its own browser context, with what it requested and what went wrong in it."""

    page: Page
    requests: list[Request] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def posts_to(self, api_url: str) -> list[Request]:
        """The POSTs this page sent to ``{api_url}/classify``."""
        return [r for r in self.requests if r.method == "POST" and r.url == api_url + "/classify"]


OpenTab = Callable[..., Tab]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """Remember each phase's report on the test item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium for one test module (skip, or fail in CI, where it is not installed)."""
    if not CHROMIUM.exists():
        how = "install Debian's chromium package (apt-get install -y chromium)"
        if in_ci():
            pytest.fail(f"CI=true but {CHROMIUM} is missing: {how}")
        pytest.skip(f"{CHROMIUM} is not installed here: {how}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def stack(browser: Browser, trained: tuple[Settings, TrainOutcome]) -> Iterator[LocalStack]:
    """The real local stack (endpoint, API running the Lambda handler, site) on free ports."""
    settings, _ = trained
    running = start_stack(settings, ephemeral_ports=True)
    yield running
    running.close()


@pytest.fixture
def open_tab(browser: Browser, request: pytest.FixtureRequest) -> Iterator[OpenTab]:
    """Opens tabs with a viewport; a failing test leaves their pages in build/test-artifacts/failures/."""
    opened: list[tuple[BrowserContext, Tab]] = []

    def open_(viewport: dict[str, int] = DESKTOP, **options: Any) -> Tab:
        context = browser.new_context(viewport=viewport, **options)  # type: ignore[arg-type]
        context.set_default_timeout(15_000)
        tab = Tab(context.new_page())
        tab.page.on("request", lambda r: tab.requests.append(r))
        tab.page.on("console", lambda m: tab.console_errors.append(m.text) if m.type == "error" else None)
        tab.page.on("pageerror", lambda e: tab.page_errors.append(str(e)))
        tab.page.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
        opened.append((context, tab))
        return tab

    yield open_
    report = getattr(request.node, "report_call", None)
    for i, (context, tab) in enumerate(opened):
        if report is not None and report.failed:
            name = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
            save_screenshot(tab.page, ARTIFACTS / "failures" / f"{name}-{i}.png")
        context.close()


@pytest.fixture
def tab(open_tab: OpenTab) -> Tab:
    """A desktop-sized tab."""
    return open_tab()


def save_screenshot(page: Page, path: Path) -> Path:
    """A full-page PNG at ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
