"""Links at their edges: never to the bot or an application user, users the directory does not know
yet, look-alike e-mails, and who is told when a link takes over a DataOS user.

Each test drives the bot over HTTP against the Slack and DataOS stand-ins."""

from __future__ import annotations

from typing import Any

import pytest

from bot.store.schema import AuditEntry, IdentityLink
from tests.e2e.conftest import Bot
from tests.e2e.harness import (
    audit_actions,
    table_rows,
    text_of,
    view_id_of,
)

ADMIN = "U0ADMIN"
AUDIT = "C0AUDIT"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN, "audit_channel": AUDIT, "renew_grace": "24h"}


# ---- 3. links to application users and to the bot's own user ---------------------------------------


def reply(bot: Bot, n: int = 1) -> str:
    return text_of(bot.slack.wait_for("response_url", n)[n - 1])


def test_admin_cannot_link_a_person_to_the_bot_or_an_application_user(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    bot.heimdall.add_user("etl_app", None, type="application")
    bot.user.command("admin link <@U0BOB|bob> apikey-bot", user=ADMIN)
    assert "the bot's own DataOS user" in reply(bot) and "Nothing was linked" in reply(bot)
    bot.user.command("admin link <@U0BOB|bob> etl_app", user=ADMIN)
    assert "is an application user" in reply(bot, 2) and "Nothing was linked" in reply(bot, 2)
    assert table_rows(bot, IdentityLink) == []
    bot.user.command("list", user="U0BOB")
    operator_secret = bot.heimdall.operator_key  # type: ignore[attr-defined]
    assert operator_secret not in reply(bot, 3)
    assert "apikey_bot_operator" not in reply(bot, 3)
    assert [a for a in audit_actions(bot) if a[0] == "admin link"] == [
        ("admin link", "refused:operator", None), ("admin link", "refused:application", None)]


def test_self_link_checks_users_the_directory_does_not_know_yet(bot: Bot) -> None:
    bot.user.command("whoami", user="U0DAVE")  # the directory is loaded now
    reply(bot)
    bot.heimdall.add_user("late_app", None, type="application")  # made after the directory was loaded
    key = bot.heimdall.add_token("late_app", "late_key", hours=48).apikey
    bot.user.command("link", user="U0DAVE")
    opened = bot.slack.wait_for("views.open")[0]
    bot.user.submit(view_id_of(opened), {"link_block": {"pasted_key": {"type": "plain_text_input", "value": key}}},
                    user="U0DAVE")
    result = bot.slack.wait_for("views.update", where=lambda c: "Nothing was linked" in text_of(c)
                                or "now linked" in text_of(c))[0]
    assert "is an application user" in text_of(result)
    assert table_rows(bot, IdentityLink) == []


# ---- 11. e-mail matching without Unicode case folding ---------------------------------------------


def test_a_look_alike_email_does_not_match(bot: Bot) -> None:
    bot.heimdall.add_user("karl", "karl@example.com")
    bot.slack.add_user("U0KELVIN", "\u212aarl@example.com")
    bot.heimdall.add_token("karl", "karls_key", hours=48)
    bot.server.call(bot.runtime.directory.refresh())
    bot.user.command("list", user="U0KELVIN")
    assert "karls_key" not in reply(bot) and "No DataOS user has the e-mail address" in reply(bot)
    bot.slack.add_user("U0KARL", "KARL@example.com")  # ASCII case still does not matter
    bot.user.command("list", user="U0KARL")
    assert "karls_key" in reply(bot, 2)


# ---- 12. a link that takes over someone's DataOS user -------------------------------------------------


def test_self_link_over_an_email_match_tells_the_matched_person(bot: Bot) -> None:
    alice_key = bot.heimdall.add_token("alice", "alices", hours=48).apikey
    bot.user.command("link", user="U0DAVE")
    opened = bot.slack.wait_for("views.open")[0]
    bot.user.submit(view_id_of(opened), {"link_block": {"pasted_key": {"type": "plain_text_input",
                                                                      "value": alice_key}}}, user="U0DAVE")
    bot.slack.wait_for("views.update", where=lambda c: "now linked" in text_of(c))
    dm = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == "U0ALICE")[0]
    assert "Slack user <@U0DAVE> linked themselves to your DataOS user `alice`" in text_of(dm)
    assert "This was not me" in text_of(dm) and "tell your admins" in text_of(dm)
    audit = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == AUDIT
                               and "link takeover" in c.params["text"])[0]
    assert "U0ALICE" in audit.params["text"]
    bot.user.command("whoami", user="U0ALICE")
    assert "<@U0DAVE> (linked themselves)" in reply(bot)
    bot.user.command("whoami", user="U0DAVE")
    assert "<@U0ALICE> (by e-mail)" in reply(bot, 2)
    assert [r["outcome"] for r in table_rows(bot, AuditEntry) if r["action"] == "link takeover"] == ["told"]


def test_admin_link_over_an_email_match_tells_the_matched_person(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    bot.user.command("admin link <@U0DAVE|dave> bob", user=ADMIN)
    assert "now linked" in reply(bot)
    dm = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == "U0BOB")[0]
    assert f"A platform admin (<@{ADMIN}>) linked Slack user <@U0DAVE> to your DataOS user `bob`" in text_of(dm)


def test_linking_your_own_user_tells_nobody(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "mine", hours=48).apikey
    bot.user.command("link")
    opened = bot.slack.wait_for("views.open")[0]
    bot.user.submit(view_id_of(opened), {"link_block": {"pasted_key": {"type": "plain_text_input", "value": key}}})
    bot.slack.wait_for("views.update", where=lambda c: "now linked" in text_of(c))
    assert bot.server.call(bot.runtime.drain(10))
    assert [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") != AUDIT] == []
