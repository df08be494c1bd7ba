"""A discovery lists at most its share of DISCOVERY_LISTINGS_PER_DAY: those never listed first, then those
listed longest ago; the others wait for the next one, but a reminder due for them now is still sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.reminders.summary import SweepSummary
from bot.reminders.sweep import Sweeper
from tests.e2e.conftest import Bot

WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"discovery_listings_per_day": 8, "discovery_interval": "6h"}  # 2 people per discovery


@pytest.fixture(autouse=True)
def wednesday(clock: Any) -> None:
    clock._now = WED_1430


def discover(bot: Bot) -> tuple[SweepSummary, list[str]]:
    """A discovery, and whose keys it listed."""
    before = len(bot.heimdall.calls_to("GET", "/tokens"))
    summary = bot.server.call(Sweeper(bot.runtime).run("discovery"))
    paths = [c.path for c in bot.heimdall.calls_to("GET", "/tokens")[before:]]
    return summary, sorted(m.group(1) for p in paths if (m := re.search(r"/users/([^/]+)/tokens", p)))


def dms_to(bot: Bot, user: str) -> int:
    return len([c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == user])


def test_discoveries_share_the_listings_and_due_reminders_are_not_held_back(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "alice_key", expiration=WED_1430 + timedelta(days=200))
    bot.heimdall.add_token("bob", "bob_key", expiration=WED_1430 + timedelta(days=7, hours=3))
    bot.heimdall.add_token("carol", "carol_key", expiration=WED_1430 + timedelta(days=200))
    first, listed = discover(bot)
    assert listed == ["alice", "bob"] and first.deferred == 1  # never listed first (by id); carol waits
    assert "DISCOVERY_LISTINGS_PER_DAY): 1" in "\n".join(first.lines())
    assert dms_to(bot, "U0BOB") == 1  # his 30-day reminder
    bot.clock.advance(hours=6)
    second, listed = discover(bot)
    # carol (never listed) and the one listed longest ago; bob waits, but his 7-day step, due now, is checked
    assert "carol" in listed and len(listed) == 3 and second.deferred == 0
    assert dms_to(bot, "U0BOB") == 2
    bot.clock.advance(hours=6)
    _, listed = discover(bot)
    assert len(listed) == 2 and "carol" not in listed  # the two listed longest ago


def test_without_a_limit_every_discovery_lists_everyone(bot: Bot) -> None:
    bot.runtime.settings.discovery_listings_per_day = 0
    summary, listed = discover(bot)
    assert listed == ["alice", "bob", "carol"] and summary.deferred == 0
