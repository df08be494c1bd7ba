"""A Runtime for sweep tests: the given store's engine, the fakes, and the test's clock, on which
DataOS retries take no time and a Slack rate limit's wait passes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.app import Runtime
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.conftest import FakeClock
from tests.e2e.harness import make_settings
from tests.repositories import Repositories


def runtime(store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp: Path,
            **settings: object) -> Runtime:
    async def no_wait(_: float) -> None:
        return None

    async def wait_out(seconds: float) -> None:
        clock.advance(seconds=seconds)

    s = make_settings(slack, heimdall, str(tmp / "unused.db"), **settings)
    return Runtime(s, clock=clock.now, monotonic=clock.monotonic, dataos_sleep=no_wait, slack_sleep=wait_out,
                   engine=store.engine, db_sleep=no_wait)


#: A Wednesday afternoon: working hours in Berlin (15:30) and New York (09:30), night in Tokyo (23:30).
WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
