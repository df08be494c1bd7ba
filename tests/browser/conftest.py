"""Browser tests: the playground in this process, driven by Debian's headless Chromium through Playwright.

They skip (with the reason) where there is no Chromium or no Playwright, unless REQUIRE_BROWSER=1,
which `.ci/run` sets: there they fail instead, so they cannot silently skip in CI.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.playground.run import Playground

REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
CANDIDATES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} and REQUIRE_BROWSER=1", pytrace=False)
    pytest.skip(reason)


class RunningPlayground:
    """`apikey-bot playground` on a free port, in a thread with its own event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.failed: BaseException | None = None
        self.pg: Playground | None = None
        self._thread = threading.Thread(target=self._run, name="playground", daemon=True)

    def start(self) -> RunningPlayground:
        self._thread.start()
        if not self.ready.wait(30):
            raise RuntimeError(f"the playground did not start: {self.failed!r}")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # reported by start()
            self.failed = exc
            self.ready.set()

    async def _main(self) -> None:
        self.pg = Playground("127.0.0.1", 0)
        try:
            await self.pg.start_page()
            await self.pg.start_dataos()
            await self.pg.run_bot(self.ready.set)
        finally:
            await self.pg.aclose()

    @property
    def url(self) -> str:
        assert self.pg is not None
        return self.pg.url

    def call(self, fn: Any, *args: Any) -> Any:
        """Run `fn(*args)` on the playground's loop (where its state lives) and return the result."""
        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stop(self) -> None:
        if self.pg is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.pg.stop)
        self._thread.join(15)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        _unavailable("no Chromium found (apt-get install chromium, or set CHROMIUM=/path/to/chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.fixture
def playground() -> Iterator[RunningPlayground]:
    running = RunningPlayground().start()
    yield running
    running.stop()


@pytest.fixture
def page(browser: Any, playground: RunningPlayground, tmp_path: Path) -> Iterator[Any]:
    """A fresh tab on the playground, as Ada; a screenshot of the end state is kept in the test's tmp_path."""
    context = browser.new_context(viewport={"width": 1400, "height": 860}, timezone_id="Europe/Berlin")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(playground.url)
    tab.wait_for_selector("#banner", state="hidden")
    yield tab
    tab.screenshot(path=str(tmp_path / "end-state.png"))
    context.close()
    assert not errors, f"the page raised: {errors}"
