"""The security team's digest (issue #28): `/apikey admin digest` now, and once a week in DIGEST_CHANNEL,
each finding as a count with the worst few named, within Slack's limits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.playground.heimdall import HeimdallEmulator
from bot.reminders.governance import governance_pass
from bot.reminders.sweep import Sweeper
from bot.store import Sighting
from tests.e2e.conftest import Bot
from tests.e2e.harness import text_of
from tests.e2e.test_approvals import GRACE, approval_settings, ask, posted_request, press
from tests.e2e.test_approvals import world as world  # the approval tests' people, channels and groups

DIGEST = "C0DIGEST"


@pytest.fixture
def bot_settings(tmp_path: Path, heimdall: HeimdallEmulator) -> dict[str, Any]:
    return {**approval_settings(tmp_path, heimdall), "digest_channel": DIGEST, "notice_new_keys": True}


def digest_posts(bot: Bot) -> list[str]:
    return [text_of(c) for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == DIGEST]


def test_the_digest_counts_and_names_the_worst_and_goes_out_once_a_week(bot: Bot) -> None:
    bot.slack.add_channel(DIGEST, "security")
    rt = bot.runtime
    # a key made outside the bot, living longer than the rule allows (365 days)
    bot.heimdall.add_token("bob", "forever_key", hours=24 * 500)
    # an application user without a team, with a key
    bot.heimdall.add_user("lonely-app", None, type="application")
    bot.heimdall.add_token("lonely-app", "orphan", hours=48)
    bot.clock.advance(minutes=2)  # the discovery reads the DataOS directory afresh
    bot.server.call(Sweeper(rt).run("discovery"))
    bot.heimdall.add_token("alice", "made_in_ui", hours=48)  # a notice nobody answers
    bot.server.call(Sweeper(rt).run("discovery"))
    ask(bot, name="still_open")  # an open request
    ask(bot, user="U0BOB", name="denied_one")
    denied = posted_request(bot, 2)
    press(bot, denied, "approval_deny", GRACE)
    form = bot.slack.wait_for("views.open", where=lambda c: c.params["view"]["callback_id"]
                              == "approval_deny_reason")[-1]
    bot.user.submit(str(form.result["view"]["id"]), {"deny_reason_block": {"deny_reason": {"value": "no"}}},
                    user=GRACE)
    assert bot.server.call(rt.drain(10))

    bot.user.command("admin digest", user=GRACE)
    said = text_of(bot.slack.wait_for("response_url", where=lambda c: "Key governance digest" in text_of(c))[-1])
    assert "Keys longer than their rule allows (made outside the bot):* 1" in said and "forever_key" in said
    assert "at least 499 days, the rule allows 365 days" in said or "at least 500 days" in said
    assert "Application keys without a team:* 1" in said and "orphan" in said
    assert "Open approval requests:* 1" in said and "still_open" in said
    assert "Requests denied this week:* 1" in said and "denied_one" in said
    assert "New-key notices nobody answered:* 1" in said and "made_in_ui" in said
    bot.user.command("admin digest", user="U0BOB")  # admins only
    assert "is for platform admins" in text_of(bot.slack.wait_for("response_url", where=lambda c: "platform admins"
                                                                  in text_of(c))[-1])

    run = lambda: bot.server.call(governance_pass(rt))  # noqa: E731
    run()
    assert digest_posts(bot) == []  # the first digest is the Monday after the bot first ran with a channel
    monday = bot.clock.now() + timedelta(days=(7 - bot.clock.now().weekday()) % 7 or 7)
    bot.clock.advance(seconds=(monday.replace(hour=9, minute=5) - bot.clock.now()).total_seconds())
    run()
    run()
    (post,) = digest_posts(bot)
    assert "Key governance digest" in post and "forever_key" in post


def test_keys_made_by_the_bot_are_within_their_rule_by_construction(bot: Bot) -> None:
    rt = bot.runtime
    now = bot.clock.now()
    # the record says the bot made this 400-day key (under an earlier, laxer policy): not a finding
    bot.server.call(rt.sightings.save_sightings([Sighting("alice", "bot_made", now + timedelta(days=400), now,
                                                          created_at=now)]))
    bot.user.command("admin digest", user=GRACE)
    said = text_of(bot.slack.wait_for("response_url", where=lambda c: "Key governance digest" in text_of(c))[-1])
    assert "Keys longer than their rule allows (made outside the bot):* none" in said
