"""What a team channel hears, end to end over HTTP against the fakes: a channel another organisation can
read (Slack Connect) is refused as a team channel and, once shared later, gets no more team posts (the
owners get them by DM, the admins are told once); someone joining or leaving an owning user group is
told to the team in one line, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.housekeeping import housekeeping
from bot.reminders.sweep import Sweeper
from bot.store.schema import TeamRow
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, table_rows, text_of, view_id_of

ADMIN = "U0ADMIN"
APP = "etl-ingest"
CHANNEL = "CTEAM01"
OWNER, MEMBER = "U0ALICE", "U0CAROL"
SET_TEAM = f"admin team {APP} <#{CHANNEL}|etl> <@{OWNER}|alice> <!subteam^SDATA|@data-eng>"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN, "leak_watch": True}


@pytest.fixture(autouse=True)
def world(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    bot.slack.add_user("U0GUEST", "guest@example.com", is_restricted=True)
    bot.slack.add_channel(CHANNEL, "etl")
    bot.slack.add_usergroup("SDATA", "data-eng", [])
    bot.heimdall.add_user(APP, None, type="application")


def command(bot: Bot, text: str, user: str = ADMIN) -> str:
    n = len(bot.slack.calls_to("response_url"))
    bot.user.command(text, user=user)
    return text_of(bot.slack.wait_for("response_url", n + 1)[n])


def in_channel(bot: Bot, channel: str = CHANNEL) -> list[str]:
    assert bot.server.call(bot.runtime.drain(10))
    return [str(c.params.get("text")) for c in bot.slack.delivered("chat.postMessage")
            if c.params.get("channel") == channel]


@pytest.mark.parametrize("shared", [{"ext_shared": True}, {"connected_team_ids": ["T0PARTNER"]}])
def test_a_channel_shared_with_another_organisation_is_refused_as_a_team_channel(bot: Bot,
                                                                                  shared: dict[str, Any]) -> None:
    bot.slack.add_channel(CHANNEL, "etl", **shared)
    said = command(bot, SET_TEAM)
    assert "shared with another organisation" in said and "Nothing was changed." in said
    assert table_rows(bot, TeamRow) == []


def test_a_channel_shared_only_within_this_workspace_is_fine(bot: Bot) -> None:
    bot.slack.add_channel(CHANNEL, "etl", connected_team_ids=[])
    assert "Team made" in command(bot, SET_TEAM)


def test_a_team_channel_that_becomes_shared_gets_no_more_team_posts(bot: Bot) -> None:
    bot.clock._now = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)  # a Wednesday afternoon: working hours
    key = bot.heimdall.add_token(APP, "loader", hours=24 * 20)
    bot.heimdall.add_token(APP, "nightly", hours=20)
    assert "Team made" in command(bot, SET_TEAM)
    bot.slack.add_channel(CHANNEL, "etl", ext_shared=True)  # Slack Connect, after the team was made
    bot.clock.advance(minutes=6)  # what the bot knew of the channel is at most 5 minutes old
    opened = bot.user.command_modal(f"create --for {APP} loader_2027 30d", user=OWNER)
    bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened))
    values = create_values("loader_2027", "720h")
    values["for_block"] = {"for": {"type": "static_select", "selected_option": {"value": APP}}}
    bot.user.submit(view_id_of(opened), values, user=OWNER)
    bot.slack.wait_for("views.update", where=lambda c: "loader_2027" in text_of(c) and "created" in text_of(c))
    value = json.dumps({"k": "loader", "e": int(key.expiration.timestamp()), "a": APP}, separators=(",", ":"))
    bot.user.click("team_reveal", value, user=OWNER)
    bot.slack.wait_for("views.update", where=lambda c: key.apikey in text_of(c))  # the owner was told, by DM
    # a reminder due now (`nightly` expires in 20 hours) goes to the owner by DM as well
    assert bot.server.call(Sweeper(bot.runtime).run("discovery")).team_sent >= 1
    assert in_channel(bot) == []
    to_owner = in_channel(bot, OWNER)
    assert any("created `loader_2027`" in t for t in to_owner) and any("revealed `loader`" in t for t in to_owner)
    assert any("nightly" in text_of(c) for c in bot.slack.delivered("chat.postMessage")
               if c.params.get("channel") == OWNER and "team_reminder_renew" in text_of(c))
    told = [t for t in in_channel(bot, ADMIN) if "shared with another organisation" in t]
    assert len(told) == 1 and f"admin team {APP}" in told[0]


def test_a_leaked_key_of_a_team_whose_channel_became_shared_goes_to_its_owners_by_dm(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=24 * 30)
    assert "Team made" in command(bot, SET_TEAM)
    bot.slack.add_channel(CHANNEL, "etl", connected_team_ids=["T0PARTNER"])
    event = {"type": "message", "channel": "C0GEN", "user": "U0BOB", "text": f"try {key.apikey}",
             "ts": "1700000333.000100", "channel_type": "channel"}
    assert bot.user.event(event, event_id="EvSHAREDLEAK").status_code == 200
    assert in_channel(bot) == []
    [report] = [c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == OWNER]
    assert f"application user `{APP}`" in text_of(report) and "leak_revoke" in text_of(report)
    assert key.apikey not in json.dumps([c.params for c in bot.slack.calls])
    assert len([t for t in in_channel(bot, ADMIN) if "shared with another organisation" in t]) == 1


def test_someone_joining_or_leaving_an_owning_group_is_told_to_the_team_once(bot: Bot) -> None:
    bot.slack.set_usergroup_members("SDATA", [MEMBER])
    assert "Team made" in command(bot, SET_TEAM)  # Carol is in the group from the start: nothing to say
    assert in_channel(bot) == []
    bot.slack.set_usergroup_members("SDATA", [MEMBER, "U0BOB", "U0GUEST"])
    bot.clock.advance(minutes=6)
    bot.server.call(housekeeping(bot.runtime))
    bot.clock.advance(minutes=6)
    bot.server.call(housekeeping(bot.runtime))  # asked again: nothing new, nothing said again
    lines = in_channel(bot)
    assert lines == [
        f":busts_in_silhouette: <@U0BOB> now owns `{APP}` through <!subteam^SDATA> (added to the user group).",
        f":busts_in_silhouette: <@U0GUEST> was added to <!subteam^SDATA>, which owns `{APP}`, but cannot act for it "
        "(a guest, someone from another organisation, a deactivated account or a bot).",
    ]
    bot.slack.set_usergroup_members("SDATA", ["U0BOB"])
    bot.clock.advance(minutes=6)
    bot.user.command(f"list {APP}", user="U0BOB")  # any fresh answer from Slack is compared, not only housekeeping
    bot.slack.wait_for("response_url", where=lambda c: f"Keys of {APP}" in text_of(c))
    later = in_channel(bot)[2:]
    assert sorted(later) == sorted([
        f":busts_in_silhouette: <@{MEMBER}> no longer owns `{APP}` through <!subteam^SDATA> (removed from the user "
        "group).",
        f":busts_in_silhouette: <@U0GUEST> no longer owns `{APP}` through <!subteam^SDATA> (removed from the user "
        "group).",
    ])


def test_a_second_replica_does_not_say_a_group_change_again(bot: Bot, tmp_path: Any) -> None:
    from tests.e2e.harness import running_bot

    assert "Team made" in command(bot, SET_TEAM)
    bot.slack.set_usergroup_members("SDATA", ["U0BOB"])
    bot.clock.advance(minutes=6)
    bot.server.call(housekeeping(bot.runtime))
    with running_bot(bot.runtime.settings, bot.clock, bot.slack) as (other, _):  # same database, own memory
        other.call(housekeeping(other.runtime))
        assert other.call(other.runtime.drain(10))
    assert len([t for t in in_channel(bot) if "<@U0BOB> now owns" in t]) == 1
