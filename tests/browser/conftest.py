"""Browser tests: the playground in this process, driven by Debian's headless Chromium through Playwright.

They skip (with the reason) where there is no Chromium or no Playwright, unless REQUIRE_BROWSER=1,
which `.ci/run` sets: there they fail instead, so they cannot silently skip in CI.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.running import RunningPlayground

REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
CANDIDATES = ("chromium", "chromium-browser")
#: How long an `expect` or an action waits for the page before the test fails.
EXPECT_CEILING_MS = 30_000


def chromium_path() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} and REQUIRE_BROWSER=1", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        _unavailable("no Chromium found (apt-get install chromium, or set CHROMIUM=/path/to/chromium)")
    assert path is not None
    return path


# Per module, not per session: while Playwright's sync API is open, this thread counts as running an
# event loop, and the asyncio tests that follow in the same session could not start theirs.
@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    path = chromium
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[dev]')")
    # Every `expect` waits for what the page shows, up to a ceiling generous enough for a loaded machine
    # (Playwright's own is 5 s): a passing test never waits it out, so it costs nothing there.
    expect.set_options(timeout=EXPECT_CEILING_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.fixture
def playground() -> Iterator[RunningPlayground]:
    running = RunningPlayground().start()
    yield running
    running.stop()
    assert running.pg is not None
    running.pg.slack.check_refusals()  # the playground's Slack is as strict as the tests' fake


@pytest.fixture
def page(browser: Any, playground: RunningPlayground, tmp_path: Path) -> Iterator[Any]:
    """A fresh tab on the playground, as Ada; a screenshot of the end state is kept in the test's tmp_path."""
    context = browser.new_context(viewport={"width": 1400, "height": 860}, timezone_id="Europe/Berlin")
    context.set_default_timeout(EXPECT_CEILING_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(playground.url)
    tab.wait_for_selector("#banner", state="hidden")
    yield tab
    tab.screenshot(path=str(tmp_path / "end-state.png"))
    context.close()
    assert not errors, f"the page raised: {errors}"
