"""Text nobody in this project wrote, and long names and ids from DataOS, as they reach Slack.

Each test drives the bot over HTTP against the Slack and DataOS stand-ins."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Bot
from tests.e2e.harness import (
    revoke_value,
    text_of,
)

ADMIN = "U0ADMIN"
AUDIT = "C0AUDIT"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN, "audit_channel": AUDIT, "renew_grace": "24h"}


def reply(bot: Bot, n: int = 1) -> str:
    return text_of(bot.slack.wait_for("response_url", n)[n - 1])


# ---- 9. text nobody in this project wrote, in mrkdwn --------------------------------------------------


HOSTILE = "<!channel> <https://evil.example|renew> <@U0BOB> <#C0GEN> & friends"


def raw_mentions(text: str) -> list[str]:
    return [m for m in ("<!channel", "<!here", "<https://evil", "<@U0BOB", "<#C0GEN") if m in text]


def test_typed_extras_do_not_reach_the_form_unescaped(bot: Bot) -> None:
    opened = bot.user.command_modal("create mykey 30d extra <!here> <https://evil.example|x>")
    assert raw_mentions(text_of(opened)) == []
    assert "&lt;!here&gt;" in text_of(opened)


def test_audit_channel_lines_escape_names_from_dataos(bot: Bot) -> None:
    hostile = bot.heimdall.add_token("alice", HOSTILE, hours=48)
    bot.user.click("revoke_key", revoke_value(hostile))
    line = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == AUDIT)[0]
    assert raw_mentions(line.params["text"]) == []
    assert "&lt;!channel&gt;" in line.params["text"]
    assert HOSTILE not in bot.heimdall.tokens["alice"]


def test_not_mapped_message_escapes_the_slack_email(bot: Bot) -> None:
    bot.slack.add_user("U0EVE", "<!channel>@example.com")
    bot.user.command("list", user="U0EVE")
    assert raw_mentions(reply(bot)) == [] and "&lt;!channel&gt;@example.com" in reply(bot)


# ---- 10. builders on large inputs ------------------------------------------------------------------


def test_long_names_and_ids_from_dataos_still_render_and_work(bot: Bot) -> None:
    long_name = "k" * 400
    bot.heimdall.add_token("alice", long_name, hours=48)
    bot.user.command("list")
    listed = bot.slack.wait_for("response_url")[0]
    buttons = [e for b in listed.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    reveal = next(e for e in buttons if e["action_id"] == "reveal_key")
    revoke = next(e for e in buttons if e["action_id"] == "revoke_key")
    assert len(reveal["value"]) <= 150 and len(revoke["value"]) <= 200
    bot.user.command_modal("revoke")
    picker = bot.slack.wait_for("views.update", where=lambda c: "Which key?" in text_of(c))[0]
    options = next(b for b in picker.params["view"]["blocks"] if b["type"] == "input")["element"]["options"]
    assert all(len(o["value"]) <= 150 and len(o["text"]["text"]) <= 75 for o in options)
    bot.user.click("reveal_key", reveal["value"])  # the reference finds the key
    secret = bot.heimdall.tokens["alice"][long_name].apikey
    bot.slack.wait_for("views.update", where=lambda c: secret in text_of(c))
    bot.user.click("revoke_key", revoke["value"])
    bot.slack.wait_for("response_url", 2)
    assert long_name not in bot.heimdall.tokens["alice"]


def test_admin_keys_of_a_long_user_id_render(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    long_id = "u" * 300
    bot.heimdall.add_user(long_id, "long@example.com")
    bot.slack.add_user("U0LONG", "long@example.com")
    bot.heimdall.add_token(long_id, "x" * 200, hours=48)
    bot.server.call(bot.runtime.directory.refresh())
    bot.user.command("admin keys <@U0LONG>", user=ADMIN)
    text = reply(bot)
    assert "Something went wrong" not in text and "Revoke" in text
