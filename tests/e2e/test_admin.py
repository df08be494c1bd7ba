"""`/apikey admin`: admins only, each command over real HTTP, and every admin action audited."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.store.schema import AuditEntry, IdentityLink
from tests.e2e.conftest import Bot
from tests.e2e.harness import table_rows, text_of

ADMIN = "U0ADMIN"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN}


@pytest.fixture(autouse=True)
def admin_user(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")


def reply(bot: Bot, n: int = 1) -> str:
    return text_of(bot.slack.wait_for("response_url", n)[n - 1])


def admin_actions(bot: Bot) -> list[tuple[str, str]]:
    return [(r["action"], r["outcome"]) for r in table_rows(bot, AuditEntry) if r["action"].startswith("admin")]


@pytest.mark.parametrize("text", ["admin", "admin stats", "admin link <@U0DAVE|dave> carol", "admin keys U0BOB"])
def test_non_admins_are_refused_and_nothing_happens(bot: Bot, text: str) -> None:
    bot.user.command(text, user="U0ALICE")
    assert "is for platform admins. Nothing was done." in reply(bot)
    assert table_rows(bot, IdentityLink) == [] and admin_actions(bot) == []


def test_link_and_unlink(bot: Bot) -> None:
    bot.user.command("admin link <@U0DAVE|dave> carol", user=ADMIN)
    assert "<@U0DAVE> is now linked to DataOS user `carol`" in reply(bot)
    rows = table_rows(bot, IdentityLink)
    assert [(r["slack_user_id"], r["dataos_user_id"], r["method"], r["linked_by"]) for r in rows] == [
        ("U0DAVE", "carol", "admin", ADMIN)]
    bot.user.command("whoami", user="U0DAVE")
    assert "a platform admin linked you" in reply(bot, 2)
    bot.user.command("admin link U0DAVE nobody", user=ADMIN)
    assert "DataOS has no user `nobody`. Nothing was linked." in reply(bot, 3)
    bot.user.command("admin unlink <@U0DAVE>", user=ADMIN)
    assert "no longer linked" in reply(bot, 4)
    assert table_rows(bot, IdentityLink) == []
    bot.user.command("whoami", user="U0DAVE")
    assert "No DataOS user has the e-mail address" in reply(bot, 5)
    assert admin_actions(bot) == [("admin link", "ok"), ("admin link", "refused:unknown-user"), ("admin unlink", "ok")]


def test_keys_masked_with_revoke(bot: Bot) -> None:
    key = bot.heimdall.add_token("bob", "bobs_key", hours=72)
    bot.user.command("admin keys <@U0BOB|bob>", user=ADMIN)
    message = bot.slack.wait_for("response_url")[0].params
    text = json.dumps(message, ensure_ascii=False)
    assert "bobs_key" in text and key.apikey not in text and f"{key.apikey[:4]}…{key.apikey[-4:]}" in text
    button = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert button["action_id"] == "admin_revoke" and "confirm" in button
    bot.user.click("admin_revoke", button["value"], user="U0ALICE")  # a replayed button: refused
    assert "Only platform admins" in reply(bot, 2) and "bobs_key" in bot.heimdall.tokens["bob"]
    bot.user.click("admin_revoke", button["value"], user=ADMIN)
    assert "Revoked *bobs_key* of DataOS user `bob`" in reply(bot, 3)
    assert bot.heimdall.tokens["bob"] == {}
    assert admin_actions(bot) == [("admin keys", "ok"), ("admin revoke", "ok"), ("admin revoke notice", "told")]


def test_audit_report(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "k", hours=72)
    bot.user.click("reveal_key", "k", user="U0ALICE")
    bot.slack.wait_for("views.update")
    bot.user.command("admin audit <@U0ALICE> --days 3", user=ADMIN)
    text = reply(bot)
    assert "Audit, last 3 days for <@U0ALICE>" in text and "reveal" in text and "`k`" in text
    bot.user.command("admin audit <@U0BOB>", user=ADMIN)
    assert "No audit entries in the last 7 days for <@U0BOB>." in reply(bot, 2)


def test_sweep_and_stats(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "soon", hours=20)
    bot.heimdall.add_token("bob", "later", hours=24 * 60)
    bot.user.command("admin sweep", user=ADMIN)
    text = reply(bot)
    assert "Reminder sweep done" in text and "users checked: 3" in text
    bot.user.command("admin stats", user=ADMIN)
    stats = reply(bot, 2)
    assert "*Mapped users:* 3" in stats and "*Keys:* 2" in stats and "*Expiring in 7 days:* 1" in stats
    assert "*Reminders sent in 7 days:*" in stats
    assert [a for a, _ in admin_actions(bot)] == ["admin sweep", "admin stats"]


def test_usage_for_unknown_admin_subcommand(bot: Bot) -> None:
    bot.user.command("admin frobnicate", user=ADMIN)
    assert "Admin commands:" in reply(bot)
