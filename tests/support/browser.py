"""Playwright fixtures driving the machine's Chromium (never a downloaded browser).

Use them from a test module with `from support.browser import browser, page  # noqa: F401`,
or list `support.browser` in a conftest's `pytest_plugins`. Tests that use them are marked
`@pytest.mark.browser`; they are skipped when Playwright or the browser is missing.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("BRIEFING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


_shared: list = []      # [playwright, browser, users]: one per process, however many modules import the fixture


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the whole session.

    Every module that imports this fixture gets a session fixture of its own, and a second
    sync Playwright cannot start while the first runs; so they share one, stopped by the last.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no browser at {CHROMIUM}")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    if not _shared:
        playwright = sync_api.sync_playwright().start()
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except BaseException:
            playwright.stop()
            raise
        _shared[:] = [playwright, launched, 0]
    _shared[2] += 1
    try:
        yield _shared[1]
    finally:
        _shared[2] -= 1
        if _shared[2] == 0:
            playwright, launched, _ = _shared
            _shared.clear()
            try:
                launched.close()
            finally:
                playwright.stop()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh page in its own context (no shared cookies or cache); console errors are kept in
    `page.console_errors` for the test to check."""
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
