"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.conftest import FakeClock
from tests.integration.runtimes import WED_1430, runtime
from tests.repositories import Repositories


@pytest.fixture
async def rt(store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
             tmp_path: Path) -> AsyncIterator[Runtime]:
    """A Runtime on the store fixture's database (SQLite and PostgreSQL), at WED_1430."""
    clock._now = WED_1430
    r = runtime(store, heimdall, slack, clock, tmp_path)
    yield r
    await r.aclose()
