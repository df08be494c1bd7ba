"""Team keys (issue #22), end to end over HTTP against the fakes: an admin sets a team; an owner lists,
creates (delivered privately; the channel reads a line without the key), reveals and revokes an
application key; a non-owner is refused at each step; a user group's member gains and loses access."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.store.schema import AuditEntry, TeamRow
from bot.store.teams import Team
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, table_rows, text_of, view_id_of

ADMIN = "U0ADMIN"
APP = "etl-ingest"
CHANNEL = "CTEAM01"
OWNER, OTHER, MEMBER = "U0ALICE", "U0BOB", "U0CAROL"
SET_TEAM = f"admin team {APP} <#{CHANNEL}|etl> <@{OWNER}|alice> <!subteam^SDATA|@data-eng>"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN, "audit_channel": "C0AUDIT"}


@pytest.fixture(autouse=True)
def world(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    bot.slack.add_user("U0GUEST", "guest@example.com", is_restricted=True)
    bot.slack.add_channel(CHANNEL, "etl")
    bot.slack.add_channel("COUT", "elsewhere", member=False)
    bot.slack.add_usergroup("SDATA", "data-eng", [])
    bot.heimdall.add_user(APP, None, type="application", tags=["roles:id:app-user", f"users:id:{APP}"])


def replies(bot: Bot, n: int) -> list[str]:
    return [text_of(c) for c in bot.slack.wait_for("response_url", n)]


def channel_lines(bot: Bot) -> list[str]:
    return [str(c.params.get("text")) for c in bot.slack.calls
            if c.method == "chat.postMessage" and c.params.get("channel") == CHANNEL and c.result.get("ok")]


def set_team(bot: Bot) -> None:
    n = len(bot.slack.calls_to("response_url"))
    bot.user.command(SET_TEAM, user=ADMIN)
    assert "Team made" in replies(bot, n + 1)[n]


def everything_said(bot: Bot) -> str:
    return "\n".join(text_of(c) for c in bot.slack.calls)


def test_admin_sets_shows_lists_and_removes_a_team_and_every_refusal_changes_nothing(bot: Bot) -> None:
    refusals = [
        (f"admin team alice <#{CHANNEL}> <@{OWNER}>", "is a person"),
        (f"admin team nobody <#{CHANNEL}> <@{OWNER}>", "DataOS has no user `nobody`"),
        (f"admin team apikey-bot <#{CHANNEL}> <@{OWNER}>", "bot's own DataOS user"),
        (f"admin team {APP} <#COUT|elsewhere> <@{OWNER}>", "Invite <@UBOT0001> to <#COUT> first"),
        (f"admin team {APP} <#{CHANNEL}> <@U0GUEST>", "is a guest account"),
        (f"admin team {APP} <#{CHANNEL}>", "at least one owner"),
        (f"admin team {APP} <#{CHANNEL}> <@{OWNER}> <!subteam^SNOPE>", "could not tell me who is in"),
    ]
    for i, (text, sentence) in enumerate(refusals, start=1):
        bot.user.command(text, user=ADMIN)
        said = replies(bot, i)[i - 1]
        assert sentence in said and "Nothing was changed." in said, said
    assert table_rows(bot, TeamRow) == []
    bot.user.command(SET_TEAM, user=OTHER)  # not an admin
    assert "is for platform admins" in replies(bot, len(refusals) + 1)[-1]
    assert table_rows(bot, TeamRow) == []

    set_team(bot)
    n = len(refusals) + 2
    rows = table_rows(bot, TeamRow)
    assert [(r["app_user_id"], r["channel_id"], r["owner_users"], r["owner_groups"]) for r in rows] == [
        (APP, CHANNEL, OWNER, "SDATA")]
    bot.user.command(f"admin team {APP}", user=ADMIN)
    assert f"<@{OWNER}> and <!subteam^SDATA>" in replies(bot, n + 1)[-1]
    bot.heimdall.add_token("loader-app", "x", hours=5)  # an application user with keys and no team
    bot.heimdall.add_user("loader-app", None, type="application")
    bot.user.command("admin teams", user=ADMIN)
    listing = replies(bot, n + 2)[-1]
    assert f"`{APP}`: owners" in listing and "`loader-app` · 1 key, next expiry" in listing
    bot.user.command(f"admin team {APP} remove", user=ADMIN)
    assert "has no team any more" in replies(bot, n + 3)[-1]
    assert table_rows(bot, TeamRow) == []
    actions = [(r["action"], r["outcome"]) for r in table_rows(bot, AuditEntry) if r["action"].startswith("admin t")]
    assert ("admin team", "ok") in actions and ("admin team", "refused:person") in actions
    assert ("admin team remove", "ok") in actions and ("admin teams", "ok") in actions
    announced = [str(c.params.get("text")) for c in bot.slack.delivered("chat.postMessage")
                 if c.params.get("channel") == "C0AUDIT"]
    assert any("admin team" in line and APP in line for line in announced), announced


def test_a_guest_in_an_owning_group_is_refused_and_sees_no_team_keys(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=72)
    set_team(bot)
    bot.slack.set_usergroup_members("SDATA", ["U0GUEST"])
    value = json.dumps({"k": "loader", "e": int(key.expiration.timestamp()), "a": APP}, separators=(",", ":"))
    bot.user.click("team_reveal", value, user="U0GUEST")
    bot.slack.wait_for("views.update", where=lambda c: "Guest accounts cannot" in text_of(c))
    bot.user.command("list", user="U0GUEST")
    bot.slack.wait_for("response_url", where=lambda c: "Guest accounts cannot" in text_of(c))
    assert bot.server.call(bot.runtime.drain(10))
    assert all(f"Keys of {APP}" not in text_of(c) for c in bot.slack.calls_to("response_url"))
    assert key.apikey not in everything_said(bot)


def test_owner_lists_creates_reveals_and_revokes_and_a_non_owner_is_refused_at_each(bot: Bot) -> None:
    old = bot.heimdall.add_token(APP, "loader", hours=72)
    set_team(bot)
    # list: "Your keys", then the team's section
    bot.user.command("list", user=OWNER)
    lists = [text_of(c) for c in bot.slack.wait_for("response_url", 3)[1:]]
    assert "Your DataOS API keys" in lists[0] or "You have no DataOS API keys" in lists[0]
    assert f"Keys of {APP}" in lists[1] and "loader" in lists[1] and old.apikey not in lists[1]
    team_buttons = [e for b in bot.slack.wait_for("response_url", 3)[2].params["blocks"] if b["type"] == "actions"
                    for e in b["elements"]]
    reveal_value = next(e["value"] for e in team_buttons if e["action_id"] == "team_reveal")
    assert json.loads(reveal_value) == {"k": "loader", "e": int(old.expiration.timestamp()), "a": APP}
    # a non-owner: list of that app user refused, naming the owners; nothing else reaches them
    bot.user.command(f"list {APP}", user=OTHER)
    refused = text_of(bot.slack.wait_for("response_url", 4)[3])
    assert f"belong to its team: <@{OWNER}> and <!subteam^SDATA>" in refused and "loader" not in refused

    # create: the form offers "For", preselected by --for
    opened = bot.user.command_modal(f"create --for {APP} loader_2027 30d", user=OWNER)
    form = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened)
                              and '"block_id": "for_block"' in text_of(c))[-1]
    assert f'"value": "{APP}"' in text_of(form)
    values = create_values("loader_2027", "720h")
    values["for_block"] = {"for": {"type": "static_select", "selected_option": {"value": APP}}}
    bot.user.submit(view_id_of(opened), values, user=OWNER)
    bot.user.submit(view_id_of(opened), values, user=OWNER)  # a double submit: still one key
    # The outcome the person reads, in that form: the second submission may add "submitted twice" (if the
    # first was done by then) or leave the first's result to speak, so no count of updates is waited for.
    done = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened)
                              and "loader_2027" in text_of(c) and "created" in text_of(c))[-1]
    created = bot.heimdall.tokens[APP]["loader_2027"]
    delivered = bot.slack.wait_for("chat.postEphemeral", where=lambda c: created.apikey in text_of(c))
    assert [c.params["user"] for c in delivered] == [OWNER]
    assert str(delivered[0].params["channel"]).startswith("D")  # the owner's DM with the bot
    assert len(bot.heimdall.tokens[APP]) == 2 and "loader_2027" in text_of(done)
    bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == CHANNEL)
    assert channel_lines(bot)[0].startswith(f":key: <@{OWNER}> created `loader_2027` for {APP}, valid until")
    # a non-owner's submission of a form made for that app user is refused
    sneaky = bot.user.command_modal("create", user=OTHER)
    bot.user.submit(view_id_of(sneaky), values | {"name_block": {"name": {"type": "plain_text_input",
                                                                           "value": "mine"}}}, user=OTHER)
    bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(sneaky)
                       and "belong to its team" in text_of(c))
    assert "mine" not in bot.heimdall.tokens[APP]

    # reveal: the channel is told, the owner sees the key in a modal; a non-owner sees nothing
    bot.user.click("team_reveal", reveal_value, user=OTHER)
    bot.slack.wait_for("views.update", where=lambda c: "belong to its team" in text_of(c) and "Nothing" in text_of(c))
    bot.user.click("team_reveal", reveal_value, user=OWNER)
    bot.slack.wait_for("views.update", where=lambda c: old.apikey in text_of(c))
    assert channel_lines(bot)[1] == f":eyes: <@{OWNER}> revealed `loader` of {APP}."

    # revoke: a non-owner changes nothing; the owner revokes exactly that key and the channel is told
    bot.user.click("team_revoke", reveal_value, user=OTHER)
    bot.slack.wait_for("response_url", where=lambda c: "belong to its team" in text_of(c) and "loader" not in
                       str(c.params.get("text", "")).replace(APP, ""))
    assert "loader" in bot.heimdall.tokens[APP]
    bot.user.click("team_revoke", reveal_value, user=OWNER)
    bot.slack.wait_for("response_url", where=lambda c: "revoked" in text_of(c) and "loader" in text_of(c))
    assert "loader" not in bot.heimdall.tokens[APP] and "loader_2027" in bot.heimdall.tokens[APP]
    assert channel_lines(bot)[2] == f":wastebasket: <@{OWNER}> revoked `loader` of {APP}."
    # `/apikey revoke --for` by a non-owner: refused in the dialog, the key stays
    bot.user.command_modal(f"revoke --for {APP} loader_2027", user=OTHER)
    bot.slack.wait_for("views.update", where=lambda c: "belong to its team" in text_of(c) and "Revoke" in text_of(c))
    assert "loader_2027" in bot.heimdall.tokens[APP]
    # ... and by the owner: the confirm names the key, its submission revokes it
    confirm = bot.user.command_modal(f"revoke --for {APP} loader_2027", user=OWNER)
    shown = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(confirm)
                               and "revoke_key" in text_of(c))[-1]
    assert json.loads(shown.params["view"]["private_metadata"])["for"] == APP
    bot.user.submit(view_id_of(confirm), {}, user=OWNER)
    bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(confirm)
                       and "revoked" in text_of(c))
    assert bot.heimdall.tokens[APP] == {}
    # never a key in a channel
    said_in_channel = "\n".join(channel_lines(bot))
    assert created.apikey not in said_in_channel and old.apikey not in said_in_channel
    refused = [(r["actor_slack_id"], r["action"]) for r in table_rows(bot, AuditEntry)
               if r["outcome"] == "refused:not-owner"]
    assert {(OTHER, "reveal"), (OTHER, "revoke"), (OTHER, "create"), (OTHER, "team list")} <= set(refused)


def test_a_user_group_member_gains_and_loses_access_within_five_minutes(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=72)
    set_team(bot)
    value = json.dumps({"k": "loader", "e": int(key.expiration.timestamp()), "a": APP}, separators=(",", ":"))
    bot.user.click("team_reveal", value, user=MEMBER)
    bot.slack.wait_for("views.update", where=lambda c: "belong to its team" in text_of(c))
    bot.slack.set_usergroup_members("SDATA", [MEMBER])
    bot.clock.advance(minutes=5)
    bot.user.command(f"list {APP}", user=MEMBER)
    bot.slack.wait_for("response_url", where=lambda c: f"Keys of {APP}" in text_of(c))
    bot.user.click("team_reveal", value, user=MEMBER)
    bot.slack.wait_for("views.update", where=lambda c: key.apikey in text_of(c))
    bot.slack.set_usergroup_members("SDATA", [])
    bot.clock.advance(minutes=5)
    bot.user.click("team_revoke", value, user=MEMBER)
    bot.slack.wait_for("response_url", where=lambda c: "belong to its team" in text_of(c))
    assert "loader" in bot.heimdall.tokens[APP]
    assert key.apikey not in "\n".join(channel_lines(bot))


def test_a_deactivated_owner_leaves_every_team_and_admins_hear_of_a_team_without_owners(bot: Bot) -> None:
    bot.heimdall.add_token(APP, "loader", hours=72)
    bot.heimdall.add_user("etl-export", None, type="application")
    bot.user.command(f"admin team {APP} <#{CHANNEL}> <@{OWNER}>", user=ADMIN)
    bot.user.command(f"admin team etl-export <#{CHANNEL}> <@{OWNER}> <@{OTHER}>", user=ADMIN)
    bot.slack.wait_for("response_url", 2)
    alice = dict(bot.slack.users[OWNER], deleted=True)
    assert bot.user.event({"type": "user_change", "user": alice}, event_id="EvGONE").status_code == 200
    assert bot.server.call(bot.runtime.drain(10))
    rows = {r["app_user_id"]: r["owner_users"] for r in table_rows(bot, TeamRow)}
    assert rows == {APP: "", "etl-export": OTHER}
    told = [c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == ADMIN]
    assert len(told) == 1 and f"`{APP}` lost its last owner" in text_of(told[0]) and "`loader`" in text_of(told[0])
    assert "Revoke all 1" in text_of(told[0])
    # the one who left cannot act any more (a deactivated account is refused before anything is read)
    bot.user.command(f"list {APP}", user=OWNER)
    bot.slack.wait_for("response_url",
                       where=lambda c: "deactivated" in text_of(c) or "belong to its team" in text_of(c))


def test_the_home_tab_shows_the_teams_an_owner_owns_and_not_to_others(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=72)
    set_team(bot)
    for n, user in enumerate((OWNER, OTHER)):
        assert bot.user.event({"type": "app_home_opened", "user": user, "tab": "home"},
                              event_id=f"EvHOME{n}").status_code == 200
    owner_home = bot.slack.wait_for("views.publish", where=lambda c: c.params.get("user_id") == OWNER)[-1]
    other_home = bot.slack.wait_for("views.publish", where=lambda c: c.params.get("user_id") == OTHER)[-1]
    assert f"Keys of {APP}" in text_of(owner_home) and "team_reveal" in text_of(owner_home)
    assert key.apikey not in text_of(owner_home)
    assert APP not in text_of(other_home)


def test_a_team_key_button_acts_only_on_the_exact_key_it_showed(bot: Bot) -> None:
    old = bot.heimdall.add_token(APP, "loader", hours=72)
    set_team(bot)
    value = json.dumps({"k": "loader", "e": int(old.expiration.timestamp()), "a": APP}, separators=(",", ":"))
    bot.heimdall.remove_token(APP, "loader")
    new = bot.heimdall.add_token(APP, "loader", hours=24 * 20)  # the same name, another key
    bot.user.click("team_reveal", value, user=OWNER)
    bot.slack.wait_for("views.update", where=lambda c: "was replaced" in text_of(c))
    bot.user.click("team_revoke", value, user=OWNER)
    bot.slack.wait_for("response_url", where=lambda c: "was replaced" in text_of(c))
    assert bot.heimdall.tokens[APP]["loader"].apikey == new.apikey
    assert new.apikey not in everything_said(bot) and channel_lines(bot) == []
    bot.user.click("team_revoke", "not json", user=OWNER)
    bot.slack.wait_for("response_url", where=lambda c: "That button is damaged" in text_of(c))


# ---- what an attacker's read of the team code found (review before landing) ---------------------


@pytest.mark.parametrize("bot_settings", [{"admin_slack_user_ids": ADMIN, "audit_channel": "C0AUDIT",
                                           "allow_guests": True}])
def test_a_guest_never_acts_for_a_team_even_where_guests_manage_their_own_keys(bot: Bot) -> None:
    key = bot.heimdall.add_token(APP, "loader", hours=72)
    set_team(bot)
    bot.slack.set_usergroup_members("SDATA", ["U0GUEST"])
    value = json.dumps({"k": "loader", "e": int(key.expiration.timestamp()), "a": APP}, separators=(",", ":"))
    bot.user.click("team_reveal", value, user="U0GUEST")
    bot.slack.wait_for("views.update", where=lambda c: "Guest accounts cannot" in text_of(c))
    assert bot.server.call(bot.runtime.drain(10))
    assert key.apikey not in everything_said(bot)
    assert ("U0GUEST", "refused:guest") in [(r["actor_slack_id"], r["outcome"]) for r in table_rows(bot, AuditEntry)]


def test_no_team_is_set_while_dataos_cannot_name_the_bots_own_user(bot: Bot) -> None:
    bot.heimdall.fail_next(20, 503, match="/authorize")
    bot.user.command(SET_TEAM, user=ADMIN)
    said = replies(bot, 1)[0]
    assert "cannot say right now which DataOS user the bot itself is" in said and "Nothing was changed." in said
    assert table_rows(bot, TeamRow) == []


def test_a_dataos_user_of_no_known_type_gets_no_team(bot: Bot) -> None:
    bot.heimdall.add_user("mystery", None, type=None)  # type: ignore[arg-type]  # DataOS answering "type": null
    bot.user.command(f"admin team mystery <#{CHANNEL}|etl> <@{OWNER}|alice>", user=ADMIN)
    said = replies(bot, 1)[0]
    assert "is not an application user" in said and "Nothing was changed." in said
    assert table_rows(bot, TeamRow) == []


def test_a_team_of_what_became_the_bots_own_user_acts_on_nothing(bot: Bot) -> None:
    from bot.store.teams import Team  # the row a rotated DATAOS_APIKEY would leave behind

    operator = bot.server.call(bot.runtime.keys.operator_user_id())
    assert operator is not None
    bot.server.call(bot.runtime.teams.repo.put(Team(operator, CHANNEL, (OWNER,), (), ADMIN, bot.clock.now())))
    bot.user.command(f"list {operator}", user=OWNER)
    said = text_of(bot.slack.wait_for("response_url", where=lambda c: "bot's own DataOS user" in text_of(c))[0])
    assert "no team acts on them" in said
    assert all(t.apikey not in everything_said(bot) for t in bot.heimdall.tokens.get(operator, {}).values())


def test_admin_teams_with_many_application_users_is_a_message_slack_takes(bot: Bot) -> None:
    """60 application users with keys and long ids: the listing would hold more than 12,000 characters."""
    for i in range(60):
        app = f"analytics-ingest-service-account-{i:02d}-for-the-finance-reporting-pipeline-in-eu-west"
        bot.heimdall.add_user(app, None, type="application")
        bot.heimdall.add_token(app, "nightly_export", hours=48 + i)
    n = len(bot.slack.calls_to("response_url"))
    bot.user.command("admin teams", user=ADMIN)
    listing = bot.slack.wait_for("response_url", n + 1)[n]
    assert listing.result["ok"] is True
    text = text_of(listing)
    assert "analytics-ingest-service-account-00" in text and "too long for Slack" in text
    assert "/apikey admin team &lt;app-user&gt;" in text and "<app-user>" not in text


def test_an_owner_of_more_application_users_than_a_select_holds_types_to_find_one(bot: Bot) -> None:
    """150 application users: Slack's select holds 100 options, so "For" loads them as the owner types
    (block_suggestion); what is picked is made, and checked again, as with the select."""
    apps = [f"svc-{i:03d}" for i in range(150)]
    for app in apps:
        bot.heimdall.add_user(app, None, type="application", tags=["roles:id:app-user", f"users:id:{app}"])
        bot.server.call(bot.runtime.teams.repo.put(Team(app, CHANNEL, (OWNER,), (), ADMIN, bot.clock.now())))
    opened = bot.user.command_modal("create", user=OWNER)
    form = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened))[-1]
    element = next(b["element"] for b in form.params["view"]["blocks"] if b.get("block_id") == "for_block")
    assert element["type"] == "external_select" and "options" not in element
    assert element["initial_option"]["value"] == "-"  # the person, as the select starts
    everything = bot.user.suggest(view_id_of(opened), "", user=OWNER)
    assert len(everything) == 100 and everything[0]["value"] == "-"  # Slack shows at most 100
    found = bot.user.suggest(view_id_of(opened), "SVC-14", user=OWNER)
    assert [o["value"] for o in found] == [f"svc-{i}" for i in range(140, 150)]
    assert bot.user.suggest(view_id_of(opened), "svc-149", user=OTHER) == []  # someone else owns none
    chosen = {"for": {"type": "external_select", "selected_option": found[-1]}}
    bot.user.submit(view_id_of(opened), create_values("from_typeahead", "720h") | {"for_block": chosen}, user=OWNER)
    bot.slack.wait_for("views.update", where=lambda c: "from_typeahead" in text_of(c) and "created" in text_of(c))
    assert "from_typeahead" in bot.heimdall.tokens["svc-149"]


def test_the_home_tab_of_an_owner_of_many_teams_names_those_it_has_no_room_for(bot: Bot) -> None:
    for i in range(30):
        app = f"svc-{i:03d}"
        bot.heimdall.add_user(app, None, type="application", tags=["roles:id:app-user", f"users:id:{app}"])
        bot.heimdall.add_token(app, "nightly", hours=48)
        bot.server.call(bot.runtime.teams.repo.put(Team(app, CHANNEL, (OWNER,), (), ADMIN, bot.clock.now())))
    bot.user.event({"type": "app_home_opened", "user": OWNER, "channel": "D0ALICE", "tab": "home"}, event_id="EvHOME")
    home = bot.slack.wait_for("views.publish", where=lambda c: c.params.get("user_id") == OWNER)[-1]
    assert home.result["ok"] is True and len(home.params["view"]["blocks"]) <= 100
    shown = text_of(home).count("*Keys of svc-")
    assert 0 < shown < 30 and f"…and {30 - shown} more application users you own" in text_of(home)
