"""`/apikey admin sweep` and `stats` show the reminders Slack refused for good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Bot
from tests.e2e.harness import text_of

ADMIN = "U0ADMIN"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN}


@pytest.fixture(autouse=True)
def setup(bot: Bot, clock: Any) -> None:
    clock._now = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)  # a Wednesday afternoon in Berlin
    bot.slack.add_user(ADMIN, "admin@example.com")


def test_admin_sweep_and_stats_show_undeliverable_reminders(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "soon", expiration=bot.clock.now() + timedelta(hours=20))
    bot.slack.fail("chat.postMessage", "user_not_found")
    bot.user.command("admin sweep", user=ADMIN)
    text = text_of(bot.slack.wait_for("response_url", 1)[0])
    assert "undeliverable (not tried again before the next step): 1 (1 user_not_found)" in text
    assert "failures: 0" in text
    bot.user.command("admin stats", user=ADMIN)
    stats = text_of(bot.slack.wait_for("response_url", 2)[1])
    assert "*Undeliverable in 7 days:* 1" in stats and "*Reminders sent in 7 days:* 0" in stats
