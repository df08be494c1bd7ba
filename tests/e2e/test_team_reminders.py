"""Team reminders (#22 item 3) over real HTTP: an owned application user's keys are reminded in the team
channel, only owners may press its buttons, Renew delivers privately and schedules the old key's end, the
channel message is updated in place; an unreachable channel falls back to the owners' DMs; admins get a
daily digest of keys no team owns; two replicas on PostgreSQL post a channel reminder once."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackCall, SlackFake
from bot.reminders.sweep import Sweeper, SweepSummary
from bot.store import create_engine
from bot.store.schema import ScheduledRevocation
from bot.store.teams import Team
from tests.conftest import TEST_DATABASE_URL, FakeClock, require_postgres
from tests.e2e.conftest import Bot
from tests.e2e.harness import audit_actions, create_values, make_settings, running_bot, table_rows, text_of, view_id_of

WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
APP, CHANNEL, GROUP = "etl-ingest", "C0DATAENG", "S0ONCALL"
ADMIN = "U0DAVE"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"snooze": "1d", "renew_grace": "24h", "admin_slack_user_ids": [ADMIN]}


@pytest.fixture(autouse=True)
def wednesday(clock: FakeClock) -> None:
    clock._now = WED_1430


def team_setup(slack: SlackFake, heimdall: HeimdallEmulator) -> None:
    slack.add_channel(CHANNEL, "data-eng")
    slack.add_usergroup(GROUP, "data-eng-oncall", ["U0CAROL"])
    heimdall.add_user(APP, None, name="ETL ingest", type="application", tags=["roles:id:app-user"])


def own(bot: Bot, channel: str = CHANNEL) -> None:
    team_setup(bot.slack, bot.heimdall)
    bot.server.call(bot.runtime.teams.repo.put(Team(APP, channel, ("U0ALICE",), (GROUP,), "U0DAVE", WED_1430)))


def sweep(bot: Bot) -> SweepSummary:
    return bot.server.call(Sweeper(bot.runtime).run())


def channel_posts(slack: SlackFake, channel: str = CHANNEL) -> list[SlackCall]:
    return [c for c in slack.delivered("chat.postMessage") if c.params.get("channel") == channel]


def button(call: SlackCall, action_id: str) -> dict[str, Any]:
    return next(e for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


def press(bot: Bot, post: SlackCall, action_id: str, user: str) -> None:
    bot.user.click(action_id, button(post, action_id)["value"], user=user, channel=post.result["channel"],
                   message_ts=post.result["ts"], ephemeral=False)


def test_channel_reminder_is_posted_once_names_the_owners_and_never_the_key(bot: Bot) -> None:
    own(bot)
    key = bot.heimdall.add_token(APP, "ingest_writer", expiration=WED_1430 + 20 * H)
    assert sweep(bot).team_sent == 1
    [post] = channel_posts(bot.slack)
    text = text_of(post)
    assert "ingest_writer" in text and "etl-ingest" in text and key.apikey not in text
    assert "<@U0ALICE>" in text and f"<!subteam^{GROUP}>" in text
    value = json.loads(button(post, "team_reminder_renew")["value"])
    assert value == {"u": APP, "k": "ingest_writer", "e": int(key.expiration.timestamp()), "h": 0}
    assert sweep(bot).team_sent == 0 and len(channel_posts(bot.slack)) == 1  # the step is recorded, not sent again
    assert [r["channel"] for r in bot.server.call(bot.runtime.ledger.ledger())] == [CHANNEL]
    assert not [c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"].startswith("U")]


def test_someone_else_pressing_is_refused_and_nothing_changes(bot: Bot) -> None:
    own(bot)
    bot.heimdall.add_token(APP, "ingest_writer", expiration=WED_1430 + 20 * H)
    sweep(bot)
    [post] = channel_posts(bot.slack)
    for action in ("team_reminder_revoke", "team_reminder_mute", "team_reminder_renew"):
        press(bot, post, action, user="U0BOB")
    refusals = [*bot.slack.wait_for("chat.postEphemeral", 2), *bot.slack.wait_for("views.update")]
    for refusal in refusals:  # Renew's form opened first (its trigger lives 3 s), and says it there
        assert refusal.params.get("user", "U0BOB") == "U0BOB" and refusal.params.get("channel", CHANNEL) == CHANNEL
        assert "The keys of `etl-ingest` belong to its team" in text_of(refusal) and "<@U0ALICE>" in text_of(refusal)
        assert "Nothing was changed" in text_of(refusal)
    assert "callback_id" not in text_of(bot.slack.calls_to("views.open")[0]).replace('"callback_id": "apikey_info"', "")
    assert bot.slack.calls_to("chat.update") == []
    assert list(bot.heimdall.tokens[APP]) == ["ingest_writer"]


def test_a_damaged_or_redirected_button_changes_nothing(bot: Bot) -> None:
    own(bot)
    bot.heimdall.add_user("billing-svc", None, name="Billing", type="application")
    bot.heimdall.add_token("billing-svc", "payments", expiration=WED_1430 + 20 * H)
    bot.heimdall.add_token(APP, "ingest_writer", expiration=WED_1430 + 20 * H)
    sweep(bot)
    post = channel_posts(bot.slack)[0]
    common = {"user": "U0ALICE", "channel": CHANNEL, "message_ts": post.result["ts"], "ephemeral": False}
    bot.user.click("team_reminder_revoke", '{"k": "ingest_writer"}', **common)  # no application user, no expiry
    damaged = bot.slack.wait_for("chat.postEphemeral")[0]
    assert "damaged" in text_of(damaged) and "Nothing was changed" in text_of(damaged)
    # Ada owns etl-ingest, not billing-svc: a value edited to name billing-svc's key is refused
    forged = json.dumps({"u": "billing-svc", "k": "payments",
                         "e": int(bot.heimdall.tokens["billing-svc"]["payments"].expiration.timestamp())})
    bot.user.click("team_reminder_revoke", forged, **common)
    refused = bot.slack.wait_for("chat.postEphemeral", 2)[1]
    assert "`billing-svc` has no team" in text_of(refused) and "Nothing was changed" in text_of(refused)
    assert "payments" in bot.heimdall.tokens["billing-svc"] and "ingest_writer" in bot.heimdall.tokens[APP]
    assert bot.slack.calls_to("chat.update") == []


def test_a_group_owner_renews_privately_and_the_old_key_ends_after_the_grace(bot: Bot) -> None:
    own(bot)
    old = bot.heimdall.add_token(APP, "ingest_writer", expiration=WED_1430 + 5 * D)
    sweep(bot)
    [post] = channel_posts(bot.slack)
    press(bot, post, "team_reminder_renew", user="U0CAROL")  # an owner through the user group
    opened = bot.slack.wait_for("views.open")[0]
    view = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened))[0]
    view = view.params["view"]
    assert view["callback_id"] == "team_renew_key" and old.apikey not in json.dumps(view)
    fields = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert fields["old_key_block"]["initial_option"]["value"] == "in:24"  # RENEW_GRACE
    values = create_values(name="ingest_writer_20261125", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "in:24"}}}
    assert bot.user.submit(view_id_of(opened), values, user="U0CAROL").json()["response_action"] == "update"
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    new = bot.heimdall.tokens[APP]["ingest_writer_20261125"]
    delivered = [c for c in bot.slack.delivered("chat.postEphemeral") if new.apikey in text_of(c)]
    assert [(c.params["channel"], c.params["user"]) for c in delivered] == [("D0CAROL", "U0CAROL")]
    update = bot.slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == post.result["ts"])[0]
    text = text_of(update)
    assert update.params["channel"] == CHANNEL and "renewed by <@U0CAROL>" in text and "stops working" in text
    assert "actions" not in [b["type"] for b in update.params["blocks"]]
    for call in bot.slack.calls:  # the new key reached nobody but Carol, privately
        if new.apikey in text_of(call):
            assert call.method in ("chat.postEphemeral", "views.update") and call.params.get("channel") != CHANNEL
    assert [(r["dataos_user_id"], r["key_name"]) for r in table_rows(bot, ScheduledRevocation)] == [
        (APP, "ingest_writer")]
    assert ("renew", "ok", "ingest_writer") in audit_actions(bot)
    bot.clock.advance(hours=24)
    assert sweep(bot).revoked_later == 1
    assert sorted(bot.heimdall.tokens[APP]) == ["ingest_writer_20261125"]


def test_ownership_is_checked_again_when_the_form_is_submitted(bot: Bot) -> None:
    own(bot)
    bot.heimdall.add_token(APP, "ingest_writer", expiration=WED_1430 + 5 * D)
    sweep(bot)
    press(bot, channel_posts(bot.slack)[0], "team_reminder_renew", user="U0ALICE")
    opened = bot.slack.wait_for("views.open")[0]
    bot.slack.wait_for("views.update", where=lambda c: "team_renew_key" in text_of(c))
    bot.server.call(bot.runtime.teams.repo.put(Team(APP, CHANNEL, ("U0BOB",), (), ADMIN, WED_1430)))
    values = create_values(name="sneaky", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "now"}}}
    bot.user.submit(view_id_of(opened), values, user="U0ALICE")
    refused = bot.slack.wait_for("views.update", where=lambda c: "belong to its team" in text_of(c))[0]
    assert "Nothing was changed" in text_of(refused)
    assert sorted(bot.heimdall.tokens[APP]) == ["ingest_writer"]


def test_an_owner_revokes_exactly_that_key_and_the_message_says_who(bot: Bot) -> None:
    own(bot)
    bot.heimdall.add_token(APP, "ingest_writer", expiration=WED_1430 + 20 * H)
    sweep(bot)
    press(bot, channel_posts(bot.slack)[0], "team_reminder_revoke", user="U0ALICE")
    update = bot.slack.wait_for("chat.update")[0]
    assert "revoked by <@U0ALICE>" in text_of(update)
    assert APP not in bot.heimdall.tokens or not bot.heimdall.tokens[APP]


def test_an_owner_snoozes_and_the_channel_is_reminded_again_then_mute_stops_it(bot: Bot) -> None:
    own(bot)
    bot.heimdall.add_token(APP, "weekly", expiration=WED_1430 + 5 * D)
    sweep(bot)
    press(bot, channel_posts(bot.slack)[0], "team_reminder_snooze", user="U0ALICE")
    snoozed = bot.slack.wait_for("chat.update")[0]
    assert snoozed.params["channel"] == CHANNEL and "snoozed by <@U0ALICE>" in text_of(snoozed)
    assert sweep(bot).team_sent == 0
    bot.clock.advance(days=1, minutes=1)
    assert sweep(bot).team_sent == 1  # the snooze's own step
    again = channel_posts(bot.slack)[1]
    press(bot, again, "team_reminder_mute", user="U0CAROL")
    muted = bot.slack.wait_for("chat.update", 2)[1]
    assert "muted by <@U0CAROL>" in text_of(muted)
    bot.clock.advance(days=3, hours=12)  # the 1-day step would be due now
    assert sweep(bot).team_sent == 0 and len(channel_posts(bot.slack)) == 2


def test_a_post_whose_answer_was_lost_is_recorded_and_never_posted_twice(bot: Bot) -> None:
    own(bot)
    bot.heimdall.add_token(APP, "ingest_writer", expiration=WED_1430 + 20 * H)
    bot.slack.fail("chat.postMessage", "internal_error")  # Slack: "some aspect may have succeeded"
    assert sweep(bot).unknown == 1
    assert sweep(bot).team_sent == 0
    assert [c.params["channel"] for c in bot.slack.calls_to("chat.postMessage")] == [CHANNEL]
    assert [r["state"] for r in bot.server.call(bot.runtime.ledger.ledger())] == ["unknown"]


def test_archived_channel_goes_to_the_owners_by_dm_and_admins_are_told_once(bot: Bot) -> None:
    own(bot)
    bot.slack.channels[CHANNEL]["is_archived"] = True
    bot.heimdall.add_token(APP, "first", expiration=WED_1430 + 20 * H)
    bot.heimdall.add_token(APP, "second", expiration=WED_1430 + 22 * H)
    summary = sweep(bot)
    assert summary.undeliverable["is_archived"] == 2
    dms = [c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"] in ("U0ALICE", "U0CAROL")]
    assert sorted((c.params["channel"], "first" in text_of(c)) for c in dms) == [
        ("U0ALICE", False), ("U0ALICE", True), ("U0CAROL", False), ("U0CAROL", True)]
    told = [c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"] == ADMIN]
    assert len(told) == 1 and "is_archived" in text_of(told[0]) and "<#C0DATAENG>" in text_of(told[0])
    assert sweep(bot).team_sent == 0  # every step is on record: nothing twice, admins not told again
    assert len([c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"] == ADMIN]) == 1


def test_admins_get_one_digest_a_day_of_keys_no_team_owns(bot: Bot) -> None:
    bot.heimdall.add_user("billing-svc", None, name="Billing", type="application")
    bot.heimdall.add_token("billing-svc", "soon", expiration=WED_1430 + 3 * D)
    bot.heimdall.add_token("billing-svc", "later", expiration=WED_1430 + 30 * D)
    bot.clock.advance(minutes=5)  # the directory the bot read at start-up is older than a discovery accepts
    sweep(bot)
    sweep(bot)
    digests = [c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"] == ADMIN]
    assert len(digests) == 1
    assert "soon" in text_of(digests[0]) and "later" not in text_of(digests[0]) and "billing-svc" in text_of(digests[0])
    bot.clock.advance(days=1)
    sweep(bot)
    assert len([c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"] == ADMIN]) == 2


# ---- two replicas on one PostgreSQL --------------------------------------------------------------

@pytest.fixture
def pg_schema() -> Any:
    require_postgres()
    u = make_url(TEST_DATABASE_URL)
    schema = f"t_{uuid.uuid4().hex[:12]}"

    async def ddl(sql: str) -> None:
        conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                     database=u.database)
        await conn.execute(sql)
        await conn.close()

    asyncio.run(ddl(f'CREATE SCHEMA "{schema}"'))
    yield schema
    asyncio.run(ddl(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def test_two_replicas_on_postgresql_post_the_channel_reminder_once(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, tmp_path: Path, pg_schema: str) -> None:
    team_setup(slack, heimdall)
    heimdall.add_token(APP, "ingest_writer", expiration=WED_1430 + 20 * H)
    url = make_url(TEST_DATABASE_URL).render_as_string(hide_password=False)
    settings = make_settings(slack, heimdall, str(tmp_path / "unused.db"), database_url=url)

    def engine() -> Any:
        return create_engine(url, connect_args={"server_settings": {"search_path": pg_schema}})

    with running_bot(settings, clock, slack, engine=engine()) as (one, _), \
            running_bot(settings, clock, slack, engine=engine()) as (two, _):
        one.call(one.runtime.teams.repo.put(Team(APP, CHANNEL, ("U0ALICE",), (GROUP,), ADMIN, WED_1430)))
        first = asyncio.run_coroutine_threadsafe(Sweeper(one.runtime, worker="replica-1").run("discovery"),
                                                 one.loop)  # type: ignore[arg-type]
        second = asyncio.run_coroutine_threadsafe(Sweeper(two.runtime, worker="replica-2").run("discovery"),
                                                  two.loop)  # type: ignore[arg-type]
        a, b = first.result(timeout=60), second.result(timeout=60)
        assert a.team_sent + b.team_sent == 1 and a.sent + b.sent == 0
        assert len(channel_posts(slack)) == 1
        assert [r["channel"] for r in one.call(one.runtime.ledger.ledger())] == [CHANNEL]


def test_renew_opens_its_form_within_the_triggers_three_seconds_however_slow_the_owner_check(bot: Bot) -> None:
    """Who owns the team is asked of Slack (users.info, user groups): the form opens first, loading, and is
    filled in once that answer comes, even when it comes after the trigger would have expired."""
    own(bot)
    bot.heimdall.add_token(APP, "ingest_writer", expiration=WED_1430 + 5 * D)
    sweep(bot)
    [post] = channel_posts(bot.slack)
    bot.slack.hold("users.info")  # Slack is slow to say who Carol is
    press(bot, post, "team_reminder_renew", user="U0CAROL")
    bot.slack.wait_for("held:users.info")
    bot.clock.advance(seconds=5)  # the trigger would be dead by now
    bot.slack.release()
    opened = bot.slack.wait_for("views.open")[0]
    assert opened.result["ok"] is True and "Checking" in text_of(opened)
    form = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened))[0]
    assert form.params["view"]["callback_id"] == "team_renew_key" and "ingest_writer" in text_of(form)


def test_the_digest_of_many_unowned_keys_is_a_message_slack_takes(bot: Bot) -> None:
    """25 keys of application users with long ids: one section would hold more than Slack's 3,000."""
    for i in range(25):
        app = f"analytics-ingest-service-account-{i:02d}-for-the-finance-reporting-pipeline"
        bot.heimdall.add_user(app, None, type="application")
        bot.heimdall.add_token(app, f"nightly_export_to_the_warehouse_{i:02d}", expiration=WED_1430 + 2 * D)
    bot.clock.advance(minutes=5)
    sweep(bot)
    [digest] = [c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"] == ADMIN]
    text = text_of(digest)
    assert "25 key(s)" in text and "… and 5 more" in text
    assert all(len(b["text"]["text"]) <= 3000 for b in digest.params["blocks"] if b["type"] == "section")
# ---- channel fallbacks (#26 item 11) --------------------------------------------------------------


def owner_dms(slack: SlackFake) -> list[SlackCall]:
    return [c for c in slack.delivered("chat.postMessage") if c.params["channel"] in ("U0ALICE", "U0CAROL")]


def admin_notices(slack: SlackFake) -> list[SlackCall]:
    return [c for c in slack.delivered("chat.postMessage") if c.params["channel"] == ADMIN]


def test_a_channel_where_the_bot_may_not_post_falls_back_to_the_owners_and_tells_the_admins(bot: Bot) -> None:
    own(bot)
    bot.slack.restrict_posting(CHANNEL)  # a workspace preference: only some people may post there
    bot.heimdall.add_token(APP, "ingest_writer", expiration=WED_1430 + 20 * H)
    summary = sweep(bot)
    assert summary.undeliverable["restricted_action"] == 1
    assert sorted(c.params["channel"] for c in owner_dms(bot.slack)) == ["U0ALICE", "U0CAROL"]
    [told] = admin_notices(bot.slack)
    assert "restricted_action" in text_of(told) and "Let apps post there" in text_of(told)


def test_an_owner_slack_could_not_look_up_is_told_by_a_later_pass(bot: Bot) -> None:
    own(bot)
    bot.slack.channels[CHANNEL]["is_archived"] = True
    bot.heimdall.add_token(APP, "ingest_writer", expiration=WED_1430 + 20 * H)
    bot.runtime.profiles._cache.clear()  # nobody's profile is at hand: each owner is asked of Slack now
    bot.slack.fail("users.info", "ratelimited", times=50)  # …and Slack cannot say just now
    summary = sweep(bot)
    assert owner_dms(bot.slack) == []
    assert any("could not look up owner U0ALICE" in f for f in summary.failures)
    bot.slack.failures["users.info"].clear()
    assert sweep(bot).team_sent == 0 and owner_dms(bot.slack) == []  # not before the back-off has passed
    bot.clock.advance(minutes=6)
    sweep(bot)
    assert sorted(c.params["channel"] for c in owner_dms(bot.slack)) == ["U0ALICE", "U0CAROL"]
    bot.clock.advance(hours=1)
    sweep(bot)  # each once
    assert len(owner_dms(bot.slack)) == 2
    assert len(admin_notices(bot.slack)) == 1


def test_admins_are_told_again_each_time_the_channel_becomes_unreachable_again(bot: Bot) -> None:
    own(bot)
    bot.slack.channels[CHANNEL]["is_archived"] = True
    # Keys that fall due on three days in a row (the 30-day step of the later ones).
    expiring = {"first": 20 * H, "second": 30 * D + H, "third": 31 * D + H, "fourth": 31 * D + 2 * H}
    for name, left in expiring.items():
        bot.heimdall.add_token(APP, name, expiration=WED_1430 + left)
    sweep(bot)
    assert len(admin_notices(bot.slack)) == 1
    bot.slack.channels[CHANNEL]["is_archived"] = False  # unarchived: the next reminder is posted there
    bot.clock.advance(days=1)
    assert sweep(bot).team_sent == 1 and len(admin_notices(bot.slack)) == 1
    bot.slack.channels[CHANNEL]["is_member"] = False  # then the bot is removed from it
    bot.clock.advance(days=1)
    assert sweep(bot).undeliverable["not_in_channel"] == 2  # two reminders, one outage: admins told once more
    notices = admin_notices(bot.slack)
    assert len(notices) == 2 and "not_in_channel" in text_of(notices[1])
