"""Words that say what happened, over HTTP: a team channel is said to be told only when Slack took the
line; a hand-made app whose command does not escape mentions is told which setting to turn on; dates
read "on Nov 27, 2026 at 14:05", never "on today at"; whose key it was sits inside the sentence; a
confirm dialog shows the viewer's own time, and is cut before Slack's 300 characters; the audit channel
says refusals in words; and an application key is never titled "Your DataOS key"."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.store.teams import Team
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, text_of, view_id_of

ADMIN = "U0ADMIN"
APP = "etl-ingest"
CHANNEL = "CTEAM01"
OWNER = "U0ALICE"
AUDIT = "C0AUDIT"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN, "audit_channel": AUDIT}


@pytest.fixture(autouse=True)
def world(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com", name="admin")
    bot.slack.add_channel(CHANNEL, "etl")
    bot.heimdall.add_user(APP, None, type="application", tags=["roles:id:app-user", f"users:id:{APP}"])
    bot.server.call(bot.runtime.teams.repo.put(Team(APP, CHANNEL, (OWNER,), (), ADMIN, bot.clock.now())))


def replies(bot: Bot, n: int) -> list[Any]:
    return bot.slack.wait_for("response_url", n)


def team_buttons(bot: Bot) -> dict[str, str]:
    bot.user.command(f"list {APP}", user=OWNER)
    listed = bot.slack.wait_for("response_url", where=lambda c: f"Keys of {APP}" in text_of(c))[-1]
    return {e["action_id"]: e["value"] for b in listed.params["blocks"] if b["type"] == "actions"
            for e in b["elements"]}


def audit_lines(bot: Bot) -> str:
    return "\n".join(str(c.params.get("text")) for c in bot.slack.delivered("chat.postMessage")
                     if c.params.get("channel") == AUDIT)


def test_a_team_channel_that_refused_the_line_is_not_said_to_have_been_told(bot: Bot) -> None:
    bot.heimdall.add_token(APP, "loader", hours=72)
    buttons = team_buttons(bot)
    bot.slack.channels[CHANNEL]["is_archived"] = True  # archived since: Slack refuses the bot's line there
    bot.user.click("team_revoke", buttons["team_revoke"], user=OWNER)
    said = text_of(bot.slack.wait_for("response_url", where=lambda c: "revoked" in text_of(c))[-1])
    assert "was told" not in said and f"I could not tell <#{CHANNEL}>" in said
    assert "loader" not in bot.heimdall.tokens[APP]
    # a key made for the team while the channel refuses: the form says so too
    opened = bot.user.command_modal(f"create --for {APP}", user=OWNER)
    bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened))
    values = create_values("loader_2", "720h") | {
        "for_block": {"for": {"type": "static_select", "selected_option": {"value": APP}}}}
    bot.user.submit(view_id_of(opened), values, user=OWNER)
    done = bot.slack.wait_for("views.update", where=lambda c: "loader_2" in text_of(c) and "created" in text_of(c))
    assert "Its team channel was told" not in text_of(done[-1]) and "could not tell its team channel" in text_of(
        done[-1])


def test_a_command_that_slack_did_not_escape_names_the_setting_to_turn_on(bot: Bot) -> None:
    """A hand-made app with "Escape channels, users, and links" off: Slack sends `#etl @alice` as typed."""
    bot.user.command(f"admin team {APP} #etl @alice", user=ADMIN)
    said = text_of(replies(bot, 1)[0])
    assert "Escape channels, users, and links sent to your app" in said and "Nothing was changed" in said
    bot.user.command("admin keys @bob", user=ADMIN)
    assert "Escape channels, users, and links sent to your app" in text_of(replies(bot, 2)[1])
    bot.user.command(f"admin team {APP} <#{CHANNEL}|etl> owners", user=ADMIN)  # a plain word: not that
    assert "I could not read `owners`" in text_of(replies(bot, 3)[2])
    bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == AUDIT
                       and "no #channel" in str(c.params.get("text")))  # the audit channel's lines come paced
    lines = audit_lines(bot)
    assert "refused: Slack sent #channel or @name as typed" in lines
    assert "refused: a word that is no #channel, @person or @group" in lines and "refused:unreadable" not in lines


def test_an_admin_revoke_says_on_which_day_and_whose_key_inside_the_sentence(bot: Bot) -> None:
    bot.heimdall.add_token("bob", "bobs_key", hours=72)
    bot.user.command("admin keys <@U0BOB|bob>", user=ADMIN)
    listing = replies(bot, 1)[0].params
    button = next(e for b in listing["blocks"] if b["type"] == "actions" for e in b["elements"])
    confirm = button["confirm"]["text"]["text"]
    assert "<!date^" in confirm and " UTC)" not in confirm  # the admin's own time, as in the row above
    bot.user.click("admin_revoke", button["value"], user=ADMIN)
    replies(bot, 2)
    told = next(c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"] == "U0BOB")
    assert "^on {date_short} at {time}|on " in text_of(told) and "on <!date" not in text_of(told)
    bot.user.click("admin_revoke", button["value"], user=ADMIN)  # pressed again: the key is gone
    gone = text_of(replies(bot, 3)[2])
    assert "`bobs_key` of DataOS user `bob` is no longer in DataOS" in gone and "revoked. (of" not in gone


def test_a_confirm_dialog_is_cut_before_slacks_300_characters(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "&" * 90, hours=72)  # a name made elsewhere: each & becomes &amp;
    bot.user.command("list")
    listed = bot.slack.wait_for("response_url")[0]
    assert listed.result["ok"] is True  # Slack took the list: the confirm of its Revoke is within 300
    confirms = [e["confirm"]["text"]["text"] for b in listed.params["blocks"] if b["type"] == "actions"
                for e in b["elements"] if "confirm" in e]
    assert confirms and all(len(t) <= 300 for t in confirms)


def test_an_application_key_shown_to_an_owner_is_not_titled_as_theirs(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=72)
    buttons = team_buttons(bot)
    bot.user.click("team_reveal", buttons["team_reveal"], user=OWNER)
    shown = bot.slack.wait_for("views.update", where=lambda c: key.apikey in json.dumps(c.params))[0]
    view = shown.params["view"]
    assert view["title"]["text"] == "Application key" and f"of application user `{APP}`" in text_of(shown)
