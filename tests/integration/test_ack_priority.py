"""Acknowledgements first: a listener's work after its ack steps aside while other requests still wait
for theirs (Slack gives each 3 seconds; the work after an ack has no deadline), but never for long."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import bot.app.runtime
from bot.app import Runtime
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.e2e.harness import make_settings


@pytest.fixture
def runtime(slack: SlackFake, heimdall: HeimdallEmulator, tmp_path: Path) -> Runtime:
    return Runtime(make_settings(slack, heimdall, str(tmp_path / "bot.db")))


async def turns(n: int = 20) -> None:
    """Let the event loop run other tasks `n` times (no clock involved)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_work_waits_until_pending_acks_are_sent(runtime: Runtime) -> None:
    with runtime.acknowledging():
        with runtime.acknowledging():
            work = asyncio.create_task(runtime.after_acks())
            await turns()
            assert not work.done()
        await turns()
        assert not work.done()  # one request still waits for its ack
    await turns()
    assert work.done()


async def test_no_wait_when_nothing_is_pending(runtime: Runtime) -> None:
    work = asyncio.create_task(runtime.after_acks())
    await turns()
    assert work.done()


async def test_the_wait_is_bounded(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """A steady stream of requests must not starve the work it follows."""
    monkeypatch.setattr(bot.app.runtime, "ACK_PRIORITY_SECONDS", 0.0)
    with runtime.acknowledging():
        work = asyncio.create_task(runtime.after_acks())
        await turns()
        assert work.done()
