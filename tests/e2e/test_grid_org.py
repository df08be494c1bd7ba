"""Enterprise Grid, organisation-wide install: one token for every workspace the org admin granted. Over real
HTTP against the Slack stand-in made an organisation (two granted workspaces, a third not granted yet) and the
DataOS stand-in: commands, clicks and the Home tab from either workspace; one reminder for a person in both;
workspaces granted and revoked while the bot runs; guests and Slack Connect strangers kept out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.playground.slack import SlackCall, SlackFake
from bot.reminders.summary import SweepSummary
from bot.reminders.sweep import Sweeper
from bot.store.schema import SlackMember, SlackWorkspace
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, table_rows, text_of

WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
ACME, LABS, LATER = "T0123", "T0456", "T0789"


@pytest.fixture
def slack(slack: SlackFake) -> Iterator[SlackFake]:
    """Acme Corporation: Acme and Labs granted, Later not (yet). Alice is in Acme and Labs, Bob in Labs only,
    Carol in Later only; Dave comes from another organisation (Slack Connect), Gina is a guest in Labs."""
    slack.make_org()
    slack.add_workspace(LABS, "Labs")
    slack.add_workspace(LATER, "Later", granted=False)
    slack.join("U0ALICE", LABS)
    slack.move("U0BOB", LABS)
    slack.move("U0CAROL", LATER)
    slack.users["U0CAROL"].update(tz="Europe/Berlin", tz_offset=3600)
    slack.add_user("U0DAVE", "dave@elsewhere.org", name="Dave", team_id="T0PARTNER")
    slack.in_org("W0GINA", LABS, email="gina@example.com", name="Gina", is_restricted=True)
    slack.add_channel("C0LABS", "labs-general")
    slack.channel_in("C0LABS", LABS)
    yield slack


@pytest.fixture(autouse=True)
def wednesday(clock: Any) -> None:
    clock._now = WED_1430


def sweep(bot: Bot) -> SweepSummary:
    return bot.server.call(Sweeper(bot.runtime).run("discovery"))


def settled(bot: Bot) -> None:
    assert bot.server.call(bot.runtime.drain(30))


def command(bot: Bot, text: str, user: str, team: str, channel: str = "C0456") -> SlackCall:
    """`/apikey <text>` typed in workspace `team` of the organisation; the bot's answer to it."""
    before = len(bot.slack.calls_to("response_url"))
    post_command(bot, text, user, team, channel)
    settled(bot)
    return bot.slack.wait_for("response_url", count=before + 1)[-1]


def post_command(bot: Bot, text: str, user: str, team: str, channel: str, trigger: str | None = None) -> None:
    url = bot.slack.response_url(command=True)
    form = {"token": "legacy", **bot.slack.command_fields(team), "channel_id": channel, "channel_name": "general",
            "user_id": user, "user_name": user.lower(), "command": "/apikey", "text": text, "api_app_id": "A0ABC",
            "response_url": url, "trigger_id": bot.slack.trigger(trigger or f"trig.{team}.{user}.{text}")}
    assert bot.user.post(urlencode(form), "application/x-www-form-urlencoded").status_code == 200


def event(bot: Bot, body: dict[str, Any]) -> None:
    assert bot.user.post(json.dumps(body), "application/json").status_code == 200
    settled(bot)


def dms_to(bot: Bot, user: str) -> list[SlackCall]:
    return [c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == user]


def member_ids(bot: Bot) -> set[str]:
    return {r["slack_user_id"] for r in table_rows(bot, SlackMember)}


def test_the_directory_walks_each_granted_workspace_and_a_person_in_two_gets_one_reminder(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + timedelta(hours=20))
    bot.heimdall.add_token("bob", "etl", expiration=WED_1430 + timedelta(hours=20))
    summary = sweep(bot)
    walked = {c.params.get("team_id") for c in bot.slack.delivered("users.list")}
    assert walked == {ACME, LABS}  # each granted workspace, named; never the one not granted
    assert bot.slack.delivered("auth.teams.list")
    assert not [c for c in bot.slack.calls_to("users.list") if c.result.get("ok") is False]
    assert len(dms_to(bot, "U0ALICE")) == 1 and len(dms_to(bot, "U0BOB")) == 1
    assert summary.sent == 2
    rows = {r["slack_user_id"]: r for r in table_rows(bot, SlackMember)}
    assert rows["U0ALICE"]["teams"] == f"{ACME} {LABS}" and rows["U0BOB"]["teams"] == LABS
    # Carol is in no granted workspace, Dave is from another organisation, Gina is a guest: none is in
    assert {"U0CAROL", "U0DAVE", "W0GINA"}.isdisjoint(rows)
    # a second discovery: the same people, still one reminder each for the same step
    sweep(bot)
    assert len(dms_to(bot, "U0ALICE")) == 1 and len(dms_to(bot, "U0BOB")) == 1


def test_a_slash_command_works_from_each_workspace_for_the_same_person(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "ci_loader", hours=24 * 30)
    bot.heimdall.add_token("bob", "etl", hours=24 * 30)
    from_acme = text_of(command(bot, "list", "U0ALICE", ACME))
    from_labs = text_of(command(bot, "list", "U0ALICE", LABS, channel="C0LABS"))
    assert "ci_loader" in from_acme and "ci_loader" in from_labs and "etl" not in from_labs
    assert "etl" in text_of(command(bot, "list", "U0BOB", LABS, channel="C0LABS"))
    # one DataOS mapping for one person, whichever workspace asked
    assert "alice" in text_of(command(bot, "whoami", "U0ALICE", LABS, channel="C0LABS"))


def test_a_key_is_created_through_the_form_from_the_second_workspace(bot: Bot) -> None:
    post_command(bot, "create", "U0BOB", LABS, "C0LABS", trigger="labs.create.1")
    opened = bot.slack.wait_for("views.open", where=lambda c: c.params.get("trigger_id") == "labs.create.1")[0]
    view = dict(bot.slack.views[opened.result["view"]["id"]], state={"values": create_values(name="labs_key")})
    payload = {"type": "view_submission", **bot.slack.interaction_fields(LABS, "U0BOB"), "api_app_id": "A0ABC",
               "trigger_id": bot.slack.trigger("labs.submit.1"), "view": view, "response_urls": []}
    assert bot.user.interact(payload).status_code == 200
    bot.slack.wait_for("views.update", where=lambda c: "Key *labs_key* created" in text_of(c))
    key = bot.heimdall.tokens["bob"]["labs_key"]
    delivered = bot.slack.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == "U0BOB")[0]
    assert key.apikey in text_of(delivered)


def test_slack_connect_strangers_and_guests_are_refused_on_an_org_install(bot: Bot) -> None:
    bot.heimdall.add_user("gina", "gina@example.com", name="Gina")
    refused = text_of(command(bot, "list", "U0DAVE", ACME))
    assert "another organisation" in refused and "Nothing was done" in refused
    guest = text_of(command(bot, "list", "W0GINA", LABS, channel="C0LABS"))
    assert "Guest accounts cannot manage DataOS keys" in guest
    assert bot.heimdall.calls_to("GET", "/tokens") == []


def test_the_home_tab_and_a_reminders_button_work_from_the_second_workspace(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + timedelta(days=3, hours=2))
    home = {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home",
            "event_ts": "1700000000.000100"}
    event(bot, bot.slack.envelope(home, team_id=LABS))
    published = bot.slack.wait_for("views.publish", where=lambda c: c.params.get("user_id") == "U0ALICE")[-1]
    assert "ci_loader" in json.dumps(published.params["view"])
    sweep(bot)
    dm = dms_to(bot, "U0ALICE")[0]
    snooze = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == "reminder_snooze")
    payload = {"type": "block_actions", **bot.slack.interaction_fields(LABS, "U0ALICE"), "api_app_id": "A0ABC",
               "trigger_id": bot.slack.trigger("labs.click.1"),
               "actions": [{"type": "button", "action_id": "reminder_snooze", "block_id": "b",
                            "value": snooze["value"], "action_ts": "1700000001.000200"}],
               "container": {"type": "message", "message_ts": dm.result["ts"], "channel_id": dm.result["channel"],
                             "is_ephemeral": False},
               "channel": {"id": dm.result["channel"], "name": "directmessage"},
               "response_url": bot.slack.response_url("labs-action")}
    assert bot.user.interact(payload).status_code == 200
    update = bot.slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == dm.result["ts"])[0]
    assert "snooze" in text_of(update).lower()


def test_workspaces_granted_and_revoked_while_the_bot_runs(bot: Bot) -> None:
    for who in ("alice", "bob", "carol"):
        bot.heimdall.add_token(who, f"{who}_key", expiration=WED_1430 + timedelta(hours=20))
    for who in ("alice", "bob"):  # not due for weeks
        bot.heimdall.add_token(who, f"{who}_later", expiration=WED_1430 + timedelta(days=40))
    sweep(bot)
    assert not dms_to(bot, "U0CAROL")  # Later is not granted: Carol is not in the directory
    # the org admin grants Later: its members are walked at once (and only its members), no restart
    walks_before = len(bot.slack.delivered("users.list"))
    event(bot, bot.slack.envelope(bot.slack.grant(LATER)))
    walked = [c.params.get("team_id") for c in bot.slack.delivered("users.list")[walks_before:]]
    assert walked == [LATER]
    assert "U0CAROL" in member_ids(bot)
    assert {r["team_id"]: r["granted"] for r in table_rows(bot, SlackWorkspace)}[LATER] in (True, 1)
    sweep(bot)
    assert len(dms_to(bot, "U0CAROL")) == 1
    # the org admin takes Labs back: Bob (only there) leaves, Alice stays through Acme
    event(bot, bot.slack.envelope(bot.slack.revoke(LABS)))
    walks_before = len(bot.slack.delivered("users.list"))
    members = member_ids(bot)
    assert "U0BOB" not in members and "U0ALICE" in members
    rows = {r["slack_user_id"]: r for r in table_rows(bot, SlackMember)}
    assert rows["U0ALICE"]["teams"] == ACME
    # twelve days on (a Monday), a key of each is due: Alice is reminded, Bob is not (in no granted workspace)
    bot.clock.advance(days=12)
    sweep(bot)
    assert len(dms_to(bot, "U0ALICE")) == 2 and len(dms_to(bot, "U0BOB")) == 1
    assert {c.params.get("team_id") for c in bot.slack.delivered("users.list")[walks_before:]} == {ACME, LATER}
    # a revoked workspace's channel is out of reach, as Slack makes it
    assert "channel_not_found" in json.dumps(bot.server.call(_info(bot, "C0LABS")))


async def _info(bot: Bot, channel: str) -> dict[str, Any]:
    try:
        return dict((await bot.runtime.slack.conversations_info(channel=channel)).data)  # type: ignore[arg-type]
    except Exception as exc:  # SlackApiError: what Slack answered
        return {"error": str(exc)}


def test_an_access_event_of_the_wrong_shape_changes_nothing(bot: Bot) -> None:
    sweep(bot)
    before = member_ids(bot)
    body = bot.slack.envelope({"type": "team_access_revoked", "team_ids": "T0123", "event_ts": "1.2"})
    assert bot.user.post(json.dumps(body), "application/json").status_code == 400
    settled(bot)
    assert member_ids(bot) == before
