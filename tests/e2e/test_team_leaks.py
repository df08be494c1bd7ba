"""A leaked application key goes to its team channel (where and when, never the key), with Revoke now /
Renew and revoke / Keep for its owners; anyone else gets one sentence naming them. A channel that refuses
the bot (archived, the bot removed, not found, posting restricted) sends the report to each admitted
owner by DM and to the admins, and the poster reads who was told."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.housekeeping import housekeeping
from bot.store.schema import LeakDM
from bot.store.teams import Team
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, table_rows, text_of, view_id_of

ADMIN = "U0ADMIN"
APP = "etl-ingest"
TEAM_CHANNEL = "CTEAM01"
GENERAL = "C0GEN"
OWNER, OTHER = "U0ALICE", "U0BOB"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"leak_watch": True, "admin_slack_user_ids": ADMIN, "leak_watch_checks_per_minute": 30}


@pytest.fixture(autouse=True)
def world(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    bot.slack.add_channel(TEAM_CHANNEL, "etl")
    bot.heimdall.add_user(APP, None, type="application")
    team = Team(APP, TEAM_CHANNEL, (OWNER,), (), ADMIN, bot.clock.now())
    bot.server.call(bot.runtime.teams.repo.put(team))


def paste(bot: Bot, text: str) -> None:
    event = {"type": "message", "channel": GENERAL, "user": OTHER, "text": text, "ts": "1700000111.000100",
             "channel_type": "channel"}
    assert bot.user.event(event, event_id="EvTEAMLEAK").status_code == 200
    assert bot.server.call(bot.runtime.drain(10))


def posted_to(bot: Bot, channel: str) -> list[Any]:
    return [c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == channel]


def buttons(call: Any) -> dict[str, str]:
    return {e["action_id"]: e["value"] for b in call.params["blocks"] if b["type"] == "actions"
            for e in b["elements"]}


def test_a_leaked_application_key_goes_to_its_team_channel_and_only_owners_act(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=24 * 30)
    paste(bot, f"try this `{key.apikey}`")
    [told] = posted_to(bot, TEAM_CHANNEL)
    said = text_of(told)
    assert "`loader`" in said or "*loader*" in said
    assert APP in said and f"<#{GENERAL}>" in said and "<!date^" in said
    assert key.apikey not in json.dumps([c.params for c in bot.slack.calls])  # never echoed anywhere
    assert posted_to(bot, ADMIN) == []  # no longer to the admins only
    values = buttons(told)
    assert set(values) == {"leak_revoke", "leak_renew", "leak_keep"}
    where = {"channel": TEAM_CHANNEL, "message_ts": told.result["ts"], "ephemeral": False}
    # someone else: one sentence naming the owners, nothing changes
    bot.user.click("leak_revoke", values["leak_revoke"], user=OTHER, **where)
    refused = bot.slack.wait_for("chat.postEphemeral", where=lambda c: "belong to its team" in text_of(c))
    assert f"<@{OWNER}>" in text_of(refused[0]) and refused[0].params["user"] == OTHER
    assert "loader" in bot.heimdall.tokens[APP]
    # an owner: Renew and revoke opens the create form for that application user; its submission makes the
    # new key (delivered privately) and revokes exactly the leaked one
    bot.user.click("leak_renew", values["leak_renew"], user=OWNER, **where)
    opened = bot.slack.wait_for("views.open", where=lambda c: c.result.get("ok") is True)[-1]
    form = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened))[-1]
    assert f'"value": "{APP}"' in text_of(form)
    values_in = create_values("loader_v2", "720h")
    values_in["for_block"] = {"for": {"type": "static_select", "selected_option": {"value": APP}}}
    bot.user.submit(view_id_of(opened), values_in, user=OWNER)
    bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == TEAM_CHANNEL
                       and "revoked `loader`" in str(c.params.get("text")))
    assert set(bot.heimdall.tokens[APP]) == {"loader_v2"}
    new = bot.heimdall.tokens[APP]["loader_v2"]
    assert [c.params["user"] for c in bot.slack.delivered("chat.postEphemeral") if new.apikey in text_of(c)] == [OWNER]
    assert new.apikey not in json.dumps([c.params for c in posted_to(bot, TEAM_CHANNEL)])


def test_revoke_now_by_an_owner_from_the_team_channel(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=24 * 30)
    paste(bot, key.apikey)
    [told] = posted_to(bot, TEAM_CHANNEL)
    bot.user.click("leak_revoke", buttons(told)["leak_revoke"], user=OWNER, channel=TEAM_CHANNEL,
                   message_ts=told.result["ts"], ephemeral=False)
    bot.slack.wait_for("chat.update", where=lambda c: "revoked" in text_of(c))
    assert bot.heimdall.tokens[APP] == {}


def test_renew_and_revoke_opens_its_form_before_the_slow_owner_check(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=24 * 30)
    paste(bot, key.apikey)
    [told] = posted_to(bot, TEAM_CHANNEL)
    bot.slack.hold("users.info")  # Slack is slow to say who the owner is
    bot.user.click("leak_renew", buttons(told)["leak_renew"], user=OWNER, channel=TEAM_CHANNEL,
                   message_ts=told.result["ts"], ephemeral=False)
    bot.slack.wait_for("held:users.info")
    bot.clock.advance(seconds=5)  # the trigger would be dead by now
    bot.slack.release()
    opened = bot.slack.wait_for("views.open")[0]
    assert opened.result["ok"] is True
    form = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened))[0]
    assert f'"value": "{APP}"' in text_of(form) and '"rk":"loader"' in form.params["view"]["private_metadata"]


def for_of(view: dict[str, Any]) -> dict[str, Any] | None:
    return next((b for b in view["blocks"] if b.get("block_id") == "for_block"), None)


def test_a_form_redrawn_for_a_taken_name_still_makes_the_team_key_and_revokes_the_leaked_one(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=24 * 30)
    paste(bot, key.apikey)
    [told] = posted_to(bot, TEAM_CHANNEL)
    bot.user.click("leak_renew", buttons(told)["leak_renew"], user=OWNER, channel=TEAM_CHANNEL,
                   message_ts=told.result["ts"], ephemeral=False)
    opened = bot.slack.wait_for("views.open")[0]
    bot.slack.wait_for("views.update", where=lambda c: "for_block" in text_of(c))
    chosen = {"for": {"type": "static_select", "selected_option": {"value": APP}}}
    # the name of the leaked key itself: DataOS says it is taken, and the form comes back to say so
    bot.user.submit(view_id_of(opened), create_values("loader", "720h") | {"for_block": chosen}, user=OWNER)
    redrawn = bot.slack.wait_for("views.update", where=lambda c: "already" in text_of(c))[0].params["view"]
    kept = for_of(redrawn)
    assert kept is not None and kept["element"]["initial_option"]["value"] == APP
    meta = json.loads(redrawn["private_metadata"])
    assert meta["rk"] == "loader" and meta["re"] == str(int(key.expiration.timestamp()))
    assert set(bot.heimdall.tokens[APP]) == {"loader"}
    # the next submit does what the first would have: the team's key, and the leaked one revoked
    bot.user.submit(view_id_of(opened), create_values("loader_v2", "720h") | {"for_block": chosen}, user=OWNER)
    bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == TEAM_CHANNEL
                       and "revoked `loader`" in str(c.params.get("text")))
    assert set(bot.heimdall.tokens[APP]) == {"loader_v2"}
    assert "loader_v2" not in bot.heimdall.tokens.get("alice", {})


def test_a_create_form_with_a_banner_keeps_its_for_choice_when_drawn_again(bot: Bot) -> None:
    opened = bot.user.command_modal(f"create --for {APP} bad!name", user=OWNER)  # opens with a banner
    bot.slack.wait_for("views.update", where=lambda c: "for_block" in text_of(c))
    chosen = {"for": {"type": "static_select", "selected_option": {"value": APP}}}
    answer = bot.user.submit(view_id_of(opened), create_values("still bad!", "720h") | {"for_block": chosen},
                             user=OWNER).json()
    assert answer["response_action"] == "update"
    kept = for_of(answer["view"])
    assert kept is not None and kept["element"]["initial_option"]["value"] == APP
    bot.slack.views[view_id_of(opened)] = dict(bot.slack.views[view_id_of(opened)], **answer["view"])
    bot.user.submit(view_id_of(opened), create_values("etl_loader", "720h") | {"for_block": chosen}, user=OWNER)
    bot.slack.wait_for("views.update", where=lambda c: "etl_loader" in text_of(c) and "created" in text_of(c))
    assert "etl_loader" in bot.heimdall.tokens[APP] and "etl_loader" not in bot.heimdall.tokens.get("alice", {})
# ---- a leaked team key always reaches someone (#26 items 10-11) -----------------------------------

GROUP, ONCALL, GUEST = "S0ONCALL", "U0CAROL", "U0GUEST"


def note_to_poster(bot: Bot) -> str:
    return text_of(bot.slack.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == OTHER)[0])


def leak_dms(bot: Bot) -> dict[str, Any]:
    return {c.params["channel"]: c for c in bot.slack.delivered("chat.postMessage")
            if c.params["channel"].startswith("U") and "was posted in" in text_of(c)}


@pytest.mark.parametrize("refusal", ["is_archived", "not_in_channel", "restricted_action", "channel_not_found"])
def test_a_team_channel_that_refuses_the_bot_sends_the_report_to_each_owner_and_the_admins(
        bot: Bot, refusal: str) -> None:
    bot.slack.add_user(GUEST, "guest@example.com", is_restricted=True)
    bot.slack.add_usergroup(GROUP, "etl-oncall", [ONCALL, GUEST])  # a guest in an owning group hears nothing
    bot.server.call(bot.runtime.teams.repo.put(Team(APP, TEAM_CHANNEL, (OWNER,), (GROUP,), ADMIN, bot.clock.now())))
    bot.slack.add_channel(TEAM_CHANNEL, "etl", archived=refusal == "is_archived",
                          member=refusal not in ("not_in_channel", "channel_not_found"),
                          private=refusal == "channel_not_found", restricted=refusal == "restricted_action")
    key = bot.heimdall.add_token(APP, "loader", hours=24 * 30)
    paste(bot, f"here: {key.apikey}")
    refused = [c for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == TEAM_CHANNEL]
    assert [c.result.get("error") for c in refused] == [refusal]
    told = leak_dms(bot)
    assert sorted(told) == sorted([OWNER, ONCALL, ADMIN])
    for dm in told.values():
        said = text_of(dm)
        assert "`etl-ingest`" in said and "loader" in said and key.apikey not in said
        assert f"<#{TEAM_CHANNEL}>" in said and set(buttons(dm)) == {"leak_revoke", "leak_renew", "leak_keep"}
    note = note_to_poster(bot)
    assert "its owners and the platform admins have been told by DM" in note
    states = {r["recipient"]: r["state"] for r in table_rows(bot, LeakDM)}
    assert states == {TEAM_CHANNEL: "refused", OWNER: "sent", ONCALL: "sent", ADMIN: "sent", GUEST: "refused"}
    bot.server.call(housekeeping(bot.runtime))  # nothing is retried against a channel that refuses for good
    assert len([c for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == TEAM_CHANNEL]) == 1
    # an owner acts from the DM: exactly that key goes
    dm = told[OWNER]
    bot.user.click("leak_revoke", buttons(dm)["leak_revoke"], user=OWNER, channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    bot.slack.wait_for("chat.update", where=lambda c: "revoked" in text_of(c))
    assert bot.heimdall.tokens[APP] == {}


def test_an_owner_slack_could_not_look_up_is_told_on_a_retry(bot: Bot) -> None:
    bot.slack.add_channel(TEAM_CHANNEL, "etl", archived=True)
    key = bot.heimdall.add_token(APP, "loader", hours=24 * 30)
    bot.runtime.profiles._cache.clear()
    bot.slack.fail("users.info", "ratelimited", times=50)  # Slack cannot say who anyone is just now
    paste(bot, key.apikey)
    bot.slack.failures["users.info"].clear()
    assert OWNER not in leak_dms(bot) and ADMIN in leak_dms(bot)
    assert "the platform admins have been told by DM" in note_to_poster(bot)
    bot.server.call(housekeeping(bot.runtime))  # the retry of refused leak DMs
    assert OWNER in leak_dms(bot)
    assert len([c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"] == ADMIN]) == 1
