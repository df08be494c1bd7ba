"""A member reactivated in Slack (`user_change` without `deleted`): the deactivation notice is updated in
place, its Revoke all refuses with that sentence, and the team ownership the deactivation removed is
restored (or the admins are told exactly what to re-add). Notices go to active admins only.

Over HTTP against the Slack and DataOS stand-ins."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from bot.housekeeping import housekeeping
from bot.playground.slack import SlackCall
from bot.store.schema import Offboarding
from bot.store.teams import Team
from tests.e2e.conftest import Bot
from tests.e2e.harness import table_rows, text_of

ADMIN, GONE_ADMIN = "U0ADMIN", "U0GONE"
APP, CHANNEL = "etl-ingest", "C0DATAENG"
_events = itertools.count(1)


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": [ADMIN, GONE_ADMIN]}


@pytest.fixture(autouse=True)
def admins(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com", name="Admin")
    bot.slack.add_user(GONE_ADMIN, "gone@example.com", name="Gone", deleted=True)  # an admin who left


def set_active(bot: Bot, user: str, active: bool) -> None:
    """Slack deactivates or reactivates `user`, and tells the bot with a `user_change` event."""
    bot.slack.users[user]["deleted"] = not active
    event = {"type": "user_change", "user": dict(bot.slack.users[user])}
    assert bot.user.event(event, event_id=f"EvACT{next(_events)}").status_code == 200
    assert bot.server.call(bot.runtime.drain(10))


def to(bot: Bot, channel: str) -> list[SlackCall]:
    return [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") == channel]


def revoke_all(call: SlackCall) -> tuple[str, dict[str, Any]]:
    return next((b["block_id"], e) for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "admin_revoke_all")


def test_the_notice_goes_to_active_admins_and_is_updated_in_place_at_reactivation(bot: Bot) -> None:
    for name in ("one", "two"):
        bot.heimdall.add_token("bob", name, hours=72)
    set_active(bot, "U0BOB", False)
    [notice] = to(bot, ADMIN)
    assert to(bot, GONE_ADMIN) == []  # never to the admin who left
    block, button = revoke_all(notice)
    set_active(bot, "U0BOB", True)
    update = bot.slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == notice.result["ts"])[0]
    assert update.params["channel"] == notice.result["channel"] == "D0ADMIN"
    said = text_of(update)
    assert "<@U0BOB> was reactivated in Slack" in said and "admin_revoke_all" not in said
    # An older copy of the notice (another device, a stale client) still shows the button: it refuses.
    bot.user.click("admin_revoke_all", button["value"], user=ADMIN, block_id=block, channel="D0ADMIN",
                   message_ts=notice.result["ts"], ephemeral=False)
    refused = bot.slack.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == ADMIN)[0]
    assert "<@U0BOB> was reactivated in Slack" in text_of(refused) and "nothing was revoked" in text_of(refused)
    assert sorted(bot.heimdall.tokens["bob"]) == ["one", "two"] and bot.heimdall.calls_to("DELETE") == []
    # what the deactivation did is kept 30 days after the reactivation, then housekeeping forgets it
    assert [r["slack_user_id"] for r in table_rows(bot, Offboarding)] == ["U0BOB"]
    bot.clock.advance(days=31)
    bot.server.call(housekeeping(bot.runtime))
    assert table_rows(bot, Offboarding) == []


def test_revoke_all_refuses_when_slack_says_they_are_back_though_the_event_was_missed(bot: Bot) -> None:
    bot.heimdall.add_token("bob", "one", hours=72)
    set_active(bot, "U0BOB", False)
    [notice] = to(bot, ADMIN)
    block, button = revoke_all(notice)
    bot.slack.users["U0BOB"]["deleted"] = False  # reactivated while the bot was down: no event reaches it
    bot.clock.advance(hours=1)  # what the bot knew of Bob's profile is old now: Slack is asked again
    bot.user.click("admin_revoke_all", button["value"], user=ADMIN, block_id=block, channel="D0ADMIN",
                   message_ts=notice.result["ts"], ephemeral=False)
    refused = bot.slack.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == ADMIN)[0]
    assert "was reactivated" in text_of(refused) and list(bot.heimdall.tokens["bob"]) == ["one"]
    bot.slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == notice.result["ts"])


def own_alone(bot: Bot) -> None:
    bot.slack.add_channel(CHANNEL, "data-eng")
    bot.heimdall.add_user(APP, None, type="application", tags=["roles:id:app-user"])
    bot.server.call(bot.runtime.teams.repo.put(Team(APP, CHANNEL, ("U0ALICE",), (), ADMIN, bot.clock.now())))


def test_a_reactivated_owner_owns_their_team_again(bot: Bot) -> None:
    own_alone(bot)
    bot.heimdall.add_token(APP, "loader", hours=72)
    set_active(bot, "U0ALICE", False)
    assert "no longer owns" in text_of(to(bot, CHANNEL)[0])
    lost = next(c for c in to(bot, ADMIN) if "lost its last owner" in text_of(c))
    set_active(bot, "U0ALICE", True)
    assert "<@U0ALICE> was reactivated in Slack and owns etl-ingest again" in text_of(to(bot, CHANNEL)[1])
    team = bot.server.call(bot.runtime.teams.repo.get(APP))
    assert team is not None and team.owner_users == ("U0ALICE",)
    update = bot.slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == lost.result["ts"])[0]
    assert "They own `etl-ingest` again" in text_of(update)
    # and she acts for the team at once
    assert bot.user.command(f"list {APP}", user="U0ALICE").status_code == 200
    listed = bot.slack.wait_for("response_url", where=lambda c: "loader" in text_of(c))
    assert listed


def test_admins_are_told_what_to_re_add_when_the_team_cannot_be_given_back(bot: Bot) -> None:
    own_alone(bot)
    set_active(bot, "U0ALICE", False)
    bot.server.call(bot.runtime.teams.repo.remove(APP))  # an admin removed the ownerless team meanwhile
    set_active(bot, "U0ALICE", True)
    told = [c for c in to(bot, ADMIN) if "was reactivated" in text_of(c)]
    assert len(told) == 1
    assert "`etl-ingest` has no team any more: /apikey admin team etl-ingest #channel <@U0ALICE>" in text_of(told[0])
    assert to(bot, GONE_ADMIN) == []
