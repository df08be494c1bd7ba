"""One owner check decides every team section, select and button, end to end over HTTP against the fakes:
a guest in an owning user group sees none of a team's keys (list, Home, the create form's "For") even with
ALLOW_GUESTS=true; an on-call owner with no DataOS user of her own lists, creates and revokes the team's
keys; a team whose DataOS user was re-created as a person acts on nothing and the admins are told once;
a platform admin may use a leaked team key's "Renew and revoke", as docs/teams.md says."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.store.schema import AuditEntry
from bot.store.teams import Team
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, table_rows, text_of, view_id_of

ADMIN = "U0ADMIN"
APP = "etl-ingest"
CHANNEL = "CTEAM01"
GUEST = "U0GUEST"
ONCALL = "U0ONCALL"  # an e-mail no DataOS person has
SET_TEAM = f"admin team {APP} <#{CHANNEL}|etl> <@U0ALICE|alice> <!subteam^SDATA|@data-eng>"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN, "allow_guests": True, "leak_watch": True}


@pytest.fixture(autouse=True)
def world(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    bot.slack.add_user(GUEST, "guest@example.com", is_restricted=True)
    bot.slack.add_user(ONCALL, "oncall@contractor.example", name="Grace")
    bot.heimdall.add_user("guest", "guest@example.com")  # the guest has a DataOS user of her own
    bot.slack.add_channel(CHANNEL, "etl")
    bot.slack.add_usergroup("SDATA", "data-eng", [])
    bot.heimdall.add_user(APP, None, type="application", tags=["roles:id:app-user", f"users:id:{APP}"])
    bot.server.call(bot.runtime.directory.refresh())
    n = len(bot.slack.calls_to("response_url"))
    bot.user.command(SET_TEAM, user=ADMIN)
    assert "Team made" in text_of(bot.slack.wait_for("response_url", n + 1)[n])


def said_to(bot: Bot, user: str) -> str:
    """Everything the bot sent that `user` could read: command answers, views, Home, ephemerals."""
    assert bot.server.call(bot.runtime.drain(10))
    return "\n".join(text_of(c) for c in bot.slack.calls if c.params.get("user") == user
                     or c.params.get("user_id") == user or c.method in ("response_url", "views.update"))


def team_button(app: str, key: Any) -> str:
    return json.dumps({"k": key.name, "e": int(key.expiration.timestamp()), "a": app}, separators=(",", ":"))


def test_a_guest_in_an_owning_group_sees_no_team_key_anywhere(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=72)
    bot.slack.set_usergroup_members("SDATA", [GUEST])
    bot.clock.advance(minutes=6)
    bot.user.command("list", user=GUEST)  # ALLOW_GUESTS=true: her own keys, and nothing of the team's
    bot.slack.wait_for("response_url", where=lambda c: "Your DataOS API keys" in text_of(c)
                       or "You have no DataOS API keys" in text_of(c))
    assert bot.user.event({"type": "app_home_opened", "user": GUEST, "tab": "home"},
                          event_id="EvGUESTHOME").status_code == 200
    bot.slack.wait_for("views.publish", where=lambda c: c.params.get("user_id") == GUEST)
    opened = bot.user.command_modal("create", user=GUEST)
    assert bot.server.call(bot.runtime.drain(10))
    form = bot.slack.views[view_id_of(opened)]
    everything = said_to(bot, GUEST)
    assert f"Keys of {APP}" not in everything and "team_reveal" not in everything and "loader" not in everything
    assert "for_block" not in json.dumps(form) and APP not in json.dumps(form)
    assert key.apikey not in everything
    # `--for` names the refusal, and nothing is read
    bot.user.command_modal(f"create --for {APP}", user=GUEST)
    bot.slack.wait_for("views.update", where=lambda c: "Guest accounts cannot" in text_of(c))


def test_an_owner_without_a_dataos_user_of_her_own_lists_creates_and_revokes(bot: Bot) -> None:
    old = bot.heimdall.add_token(APP, "loader", hours=72)
    bot.slack.set_usergroup_members("SDATA", [ONCALL])
    bot.clock.advance(minutes=6)
    # plain `/apikey list`: why she has no keys of her own, then the team's section
    bot.user.command("list", user=ONCALL)
    team_list = bot.slack.wait_for("response_url", where=lambda c: f"Keys of {APP}" in text_of(c))[0]
    assert "loader" in text_of(team_list) and old.apikey not in text_of(team_list)
    # the Home tab shows it too
    bot.user.event({"type": "app_home_opened", "user": ONCALL, "tab": "home"}, event_id="EvONCALLHOME")
    bot.slack.wait_for("views.publish", where=lambda c: c.params.get("user_id") == ONCALL
                       and f"Keys of {APP}" in text_of(c))
    # `create --for`: the form offers the team only (she has no DataOS user to make a key for)
    opened = bot.user.command_modal(f"create --for {APP} loader_2027 30d", user=ONCALL)
    form = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened))[-1]
    options = [o["value"] for b in form.params["view"]["blocks"] if b.get("block_id") == "for_block"
               for o in b["element"]["options"]]
    assert options == [APP]
    values = create_values("loader_2027", "720h")
    values["for_block"] = {"for": {"type": "static_select", "selected_option": {"value": APP}}}
    bot.user.submit(view_id_of(opened), values, user=ONCALL)
    bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened)
                       and "loader_2027" in text_of(c) and "created" in text_of(c))
    created = bot.heimdall.tokens[APP]["loader_2027"]
    delivered = bot.slack.wait_for("chat.postEphemeral", where=lambda c: created.apikey in text_of(c))
    assert [c.params["user"] for c in delivered] == [ONCALL]
    # `revoke --for`: the confirm, and its submission revokes exactly that key
    confirm = bot.user.command_modal(f"revoke --for {APP} loader", user=ONCALL)
    bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(confirm)
                       and "revoke_key" in text_of(c))
    bot.user.submit(view_id_of(confirm), {}, user=ONCALL)
    bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(confirm)
                       and "revoked" in text_of(c))
    assert set(bot.heimdall.tokens[APP]) == {"loader_2027"}
    # someone else with no DataOS user and no team still reads only why not
    bot.user.command("list", user="U0DAVE")
    dave = bot.slack.wait_for("response_url", where=lambda c: "dave@elsewhere.org" in text_of(c))
    assert APP not in text_of(dave[0])


def test_a_team_whose_user_became_a_person_acts_on_nothing_and_admins_are_told_once(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=72)
    bot.heimdall.add_user(APP, "someone@example.com", type="person")  # DataOS re-created that id as a person
    bot.user.click("team_reveal", team_button(APP, key), user="U0ALICE")
    bot.slack.wait_for("views.update", where=lambda c: "is a person in DataOS now" in text_of(c))
    bot.user.click("team_revoke", team_button(APP, key), user="U0ALICE")
    bot.slack.wait_for("response_url", where=lambda c: "is a person in DataOS now" in text_of(c))
    bot.user.command("list", user="U0ALICE")
    bot.slack.wait_for("response_url", where=lambda c: "acts on nothing" in text_of(c))
    assert bot.server.call(bot.runtime.drain(10))
    assert "loader" in bot.heimdall.tokens[APP]
    assert key.apikey not in json.dumps([c.params for c in bot.slack.calls])
    told = [c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == ADMIN
            and "is a person in DataOS now" in text_of(c)]
    assert len(told) == 1 and f"admin team {APP} remove" in text_of(told[0])
    refused = [r["outcome"] for r in table_rows(bot, AuditEntry) if r["actor_slack_id"] == "U0ALICE"]
    assert refused.count("refused:not-application") >= 2


def test_a_platform_admin_may_renew_and_revoke_a_leaked_team_key(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=24 * 30)
    event = {"type": "message", "channel": "C0GEN", "user": "U0BOB", "text": f"try {key.apikey}",
             "ts": "1700000222.000100", "channel_type": "channel"}
    assert bot.user.event(event, event_id="EvTEAMLEAK").status_code == 200
    assert bot.server.call(bot.runtime.drain(10))
    told = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == CHANNEL
                              and "leak_renew" in text_of(c))[0]
    renew = next(e["value"] for b in told.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "leak_renew")
    bot.user.click("leak_renew", renew, user=ADMIN, channel=CHANNEL, message_ts=told.result["ts"], ephemeral=False)
    opened = bot.slack.wait_for("views.open", where=lambda c: c.result.get("ok") is True)[-1]
    form = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened))[-1]
    assert f'"value": "{APP}"' in text_of(form) and "belong to its team" not in text_of(form)
    values = create_values("loader_v2", "720h")
    values["for_block"] = {"for": {"type": "static_select", "selected_option": {"value": APP}}}
    bot.user.submit(view_id_of(opened), values, user=ADMIN)
    bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == CHANNEL
                       and "revoked `loader`" in str(c.params.get("text")))
    assert set(bot.heimdall.tokens[APP]) == {"loader_v2"}
    new = bot.heimdall.tokens[APP]["loader_v2"]
    assert [c.params["user"] for c in bot.slack.delivered("chat.postEphemeral") if new.apikey in text_of(c)] == [ADMIN]
    # and a member who is neither owner nor admin still may not
    bot.user.click("leak_renew", renew, user="U0BOB", channel=CHANNEL, message_ts=told.result["ts"], ephemeral=False)
    bot.slack.wait_for("views.update", where=lambda c: "belong to its team" in text_of(c))


def test_owners_of_a_team_made_before_this_check_are_judged_the_same_way(bot: Bot) -> None:
    """A team put straight into the database (as the playground seeds them) goes through the same check."""
    bot.heimdall.add_user("etl-export", None, type="application")
    bot.heimdall.add_token("etl-export", "exporter", hours=72)
    bot.server.call(bot.runtime.teams.repo.put(Team("etl-export", CHANNEL, (GUEST, "U0BOB"), (), ADMIN,
                                                    bot.clock.now())))
    bot.user.command("list", user=GUEST)
    bot.user.command("list", user="U0BOB")
    bot.slack.wait_for("response_url", where=lambda c: "Keys of etl-export" in text_of(c))
    assert bot.server.call(bot.runtime.drain(10))
    guest_saw = [text_of(c) for c in bot.slack.calls_to("response_url")]
    assert sum("Keys of etl-export" in t for t in guest_saw) == 1  # Bob's, not the guest's
