"""A revocation scheduled by Renew acts on exactly the key it was scheduled for, and always happens or
someone is told: a pass cut short by a shutdown or a killed process leaves a claim the next pass takes
again, and after repeated failures the key's owners and the admins are told, with Revoke now.

Each test drives the bot over HTTP against the Slack and DataOS stand-ins."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.reminders.sweep import Sweeper
from bot.slack.revocations import LEASE, MAX_ATTEMPTS
from bot.store import create_engine
from bot.store.schema import ScheduledRevocation
from tests.conftest import TEST_DATABASE_URL, FakeClock, require_postgres
from tests.e2e.conftest import Bot
from tests.e2e.harness import (
    audit_actions,
    create_values,
    make_settings,
    running_bot,
    table_rows,
    text_of,
    view_id_of,
)
from tests.e2e.test_leak_watch_budget_and_delivery import after_the_startup_housekeeping
from tests.e2e.test_team_reminders import CHANNEL, button, channel_posts, own, press

ADMIN = "U0ADMIN"
AUDIT = "C0AUDIT"
WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    # DataOS may take its time here: a test holds a call in flight while the bot is stopped around it.
    return {"admin_slack_user_ids": ADMIN, "audit_channel": AUDIT, "renew_grace": "24h",
            "dataos_timeout_seconds": 60}


def renew_with_grace(bot: Bot, user: str = "U0ALICE") -> None:
    """Alice's reminder DM, Renew, and the form submitted with "revoke the old key in 24 hours"."""
    dm = next(c for c in bot.slack.delivered("chat.postMessage") if "ci_loader" in text_of(c))
    renew = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "reminder_renew")
    bot.user.click("reminder_renew", renew["value"], user=user, channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    opened = bot.slack.wait_for("views.open")[0]
    values = create_values(name="ci_loader_v2", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "in:24"}}}
    bot.user.submit(view_id_of(opened), values, user=user)
    bot.slack.wait_for("views.update", where=lambda c: "will be revoked" in text_of(c))


def states(bot: Bot) -> list[str]:
    return [r["state"] for r in table_rows(bot, ScheduledRevocation)]


# ---- 2. a scheduled revoke must not delete a newer key of the same name -----------------------------


def test_scheduled_revoke_leaves_a_new_key_with_the_old_name_alone(bot: Bot) -> None:
    bot.clock._now = WED_1430
    bot.heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + timedelta(days=5))
    bot.server.call(Sweeper(bot.runtime).run())
    dm = next(c for c in bot.slack.delivered("chat.postMessage") if "ci_loader" in text_of(c))
    renew = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "reminder_renew")
    bot.user.click("reminder_renew", renew["value"], channel=dm.result["channel"], message_ts=dm.result["ts"],
                   ephemeral=False)
    opened = bot.slack.wait_for("views.open")[0]
    values = create_values(name="ci_loader_v2", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "in:24"}}}
    bot.user.submit(view_id_of(opened), values)
    bot.slack.wait_for("views.update", where=lambda c: "will be revoked" in text_of(c))
    assert [r["key_expiration"] is not None for r in table_rows(bot, ScheduledRevocation)] == [True]
    # Meanwhile the person revokes the old key and makes a new one under the same name.
    bot.heimdall.remove_token("alice", "ci_loader")
    newer = bot.heimdall.add_token("alice", "ci_loader", hours=24 * 60)
    bot.clock.advance(hours=24)
    summary = bot.server.call(Sweeper(bot.runtime).run())
    assert bot.heimdall.tokens["alice"]["ci_loader"].apikey == newer.apikey  # still there
    assert summary.revoked_later == 0 and summary.skipped["scheduled revoke: key changed"] == 1
    assert ("revoke", "skipped: key changed", "ci_loader") in audit_actions(bot)
    assert [r["state"] for r in table_rows(bot, ScheduledRevocation)] == ["skipped"]
    bot.clock.advance(hours=24)  # the schedule has ended: nothing is tried again
    bot.server.call(Sweeper(bot.runtime).run())
    assert "ci_loader" in bot.heimdall.tokens["alice"]


# ---- 9. a scheduled revocation always happens, or someone is told ----------------------------------


def test_a_revocation_cut_short_by_a_shutdown_is_carried_out_by_the_next_pass(bot: Bot) -> None:
    bot.clock._now = WED_1430
    after_the_startup_housekeeping(bot)
    bot.heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + timedelta(days=5))
    bot.server.call(Sweeper(bot.runtime).run())
    renew_with_grace(bot)
    bot.clock.advance(hours=24)
    # The pass asks DataOS to delete the old key; DataOS is slow, and meanwhile the bot is told to stop (a
    # deploy): the scheduler cancels the running pass, as `stop_scheduler` does at SIGTERM.
    bot.heimdall.fail_next(1, None, delay=30, match="DELETE")

    async def start() -> asyncio.Task[Any]:
        return asyncio.create_task(Sweeper(bot.runtime, worker="deployed-away").run())

    async def stop(task: asyncio.Task[Any]) -> None:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    running = bot.server.call(start())
    bot.heimdall.calls.wait_for("DELETE", "/tokens/ci_loader")
    bot.server.call(stop(running))
    # DataOS never finished that delete (the bot went away): the old key still works, and the promise
    # stands. The next pass, here or on another replica, takes the revocation again at once.
    assert "ci_loader" in bot.heimdall.tokens["alice"]
    bot.server.call(Sweeper(bot.runtime, worker="after-the-deploy").run())
    assert "ci_loader" not in bot.heimdall.tokens["alice"] and "ci_loader_v2" in bot.heimdall.tokens["alice"]
    assert states(bot) == ["done"]
    assert ("revoke", "ok", "ci_loader") in audit_actions(bot)


def test_repeated_failures_tell_the_owner_and_the_admins_with_a_button_that_revokes_now(bot: Bot) -> None:
    bot.clock._now = WED_1430
    bot.slack.add_user(ADMIN, "admin@example.com", name="Admin")
    after_the_startup_housekeeping(bot)
    old = bot.heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + timedelta(days=5))
    bot.server.call(Sweeper(bot.runtime).run())
    renew_with_grace(bot)
    bot.clock.advance(hours=24)
    bot.heimdall.fail_next(100, 500, match="DELETE")  # DataOS refuses every delete, pass after pass
    for attempt in range(1, MAX_ATTEMPTS + 1):
        summary = bot.server.call(Sweeper(bot.runtime).run())
        assert any("scheduled revoke failed" in f and f"attempt {attempt} of" in f for f in summary.failures)
        told = [c for c in bot.slack.delivered("chat.postMessage") if "could not revoke it" in text_of(c)]
        assert (len(told) > 0) == (attempt == MAX_ATTEMPTS), attempt  # told once the bot stops trying
        bot.clock.advance(minutes=30)
    assert states(bot) == ["failed"]
    assert sorted(c.params["channel"] for c in told) == [ADMIN, "U0ALICE"]
    for call in told:
        said = text_of(call)
        assert "ci_loader" in said and "still works" in said and old.apikey not in said
        assert f"tried {MAX_ATTEMPTS} times" in said
    bot.server.call(Sweeper(bot.runtime).run())  # nobody is told twice, and the bot does not try again
    assert len([c for c in bot.slack.delivered("chat.postMessage") if "could not revoke it" in text_of(c)]) == 2
    assert len(bot.heimdall.calls_to("DELETE")) == len(bot.heimdall.calls_to("DELETE", "/tokens/ci_loader"))
    deletes = len(bot.heimdall.calls_to("DELETE"))
    bot.heimdall.faults.clear()
    # Bob's press changes nothing; Alice's revokes exactly that key and the message says so in place.
    dm = next(c for c in told if c.params["channel"] == "U0ALICE")
    revoke_now = button(dm, "overdue_revoke_now")
    assert "expires" in revoke_now["confirm"]["text"]["text"]
    bot.user.click("overdue_revoke_now", revoke_now["value"], user="U0BOB", channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    refused = bot.slack.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == "U0BOB")[0]
    assert "Nothing was changed" in text_of(refused) and len(bot.heimdall.calls_to("DELETE")) == deletes
    bot.user.click("overdue_revoke_now", revoke_now["value"], user="U0ALICE", channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    update = bot.slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == dm.result["ts"])[0]
    assert update.params["channel"] == dm.result["channel"] and "revoked *ci_loader*" in text_of(update)
    assert "ci_loader" not in bot.heimdall.tokens["alice"] and states(bot) == ["done"]


@pytest.mark.parametrize("archived", [False, True])
def test_a_team_key_whose_revocation_keeps_failing_is_told_in_the_team_channel(bot: Bot, archived: bool) -> None:
    bot.clock._now = WED_1430
    bot.slack.add_user(ADMIN, "admin@example.com", name="Admin")
    after_the_startup_housekeeping(bot)
    own(bot)
    bot.heimdall.add_token("etl-ingest", "ingest_writer", expiration=WED_1430 + timedelta(days=5))
    bot.server.call(Sweeper(bot.runtime).run())
    press(bot, channel_posts(bot.slack)[0], "team_reminder_renew", user="U0ALICE")
    opened = bot.slack.wait_for("views.open")[0]
    bot.slack.wait_for("views.update", where=lambda c: "team_renew_key" in text_of(c))  # the form, once checked
    values = create_values(name="ingest_writer_v2", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "in:24"}}}
    bot.user.submit(view_id_of(opened), values, user="U0ALICE")
    bot.slack.wait_for("chat.update", where=lambda c: "stops working" in text_of(c))
    bot.clock.advance(hours=24)
    bot.slack.channels[CHANNEL]["is_archived"] = archived  # (archived: the owners hear by DM instead)
    bot.heimdall.fail_next(100, 500, match="DELETE")
    for _ in range(MAX_ATTEMPTS):
        bot.server.call(Sweeper(bot.runtime).run())
        bot.clock.advance(minutes=30)
    told = [c for c in bot.slack.delivered("chat.postMessage") if "could not revoke it" in text_of(c)]
    owners = ["U0ALICE", "U0CAROL"] if archived else [CHANNEL]  # the team's channel, or each owner by DM
    assert sorted(c.params["channel"] for c in told) == sorted([ADMIN, *owners])
    bot.server.call(Sweeper(bot.runtime).run())  # each once
    assert len([c for c in bot.slack.calls_to("chat.postMessage") if "could not revoke it" in text_of(c)]) == (
        len(told) + archived)  # (+ the channel's one refusal)
    bot.heimdall.faults.clear()
    post = next(c for c in told if c.params["channel"] == ("U0CAROL" if archived else CHANNEL))
    press(bot, post, "overdue_revoke_now", user="U0CAROL")  # an owner through the team's user group
    bot.slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == post.result["ts"])
    assert sorted(bot.heimdall.tokens["etl-ingest"]) == ["ingest_writer_v2"]


def test_a_team_key_whose_revocation_keeps_failing_is_not_told_in_a_channel_shared_with_another_organisation(
        bot: Bot) -> None:
    bot.clock._now = WED_1430
    bot.slack.add_user(ADMIN, "admin@example.com", name="Admin")
    after_the_startup_housekeeping(bot)
    own(bot)
    bot.heimdall.add_token("etl-ingest", "ingest_writer", expiration=WED_1430 + timedelta(days=5))
    bot.server.call(Sweeper(bot.runtime).run())
    press(bot, channel_posts(bot.slack)[0], "team_reminder_renew", user="U0ALICE")
    opened = bot.slack.wait_for("views.open")[0]
    bot.slack.wait_for("views.update", where=lambda c: "team_renew_key" in text_of(c))
    values = create_values(name="ingest_writer_v2", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "in:24"}}}
    bot.user.submit(view_id_of(opened), values, user="U0ALICE")
    bot.slack.wait_for("chat.update", where=lambda c: "stops working" in text_of(c))
    bot.clock.advance(hours=24)  # (what Slack said of the channel is long out of date by then)
    bot.slack.channels[CHANNEL].update(is_ext_shared=True, is_shared=True, connected_team_ids=["T0123", "T0VENDOR"])
    def posts() -> list[Any]:
        return [c for c in bot.slack.calls if c.params.get("channel") == CHANNEL and c.method.startswith("chat.")]

    in_channel = len(posts())
    bot.heimdall.fail_next(100, 500, match="DELETE")
    for _ in range(MAX_ATTEMPTS + 1):
        bot.server.call(Sweeper(bot.runtime).run())
        bot.clock.advance(minutes=30)
    told = [c for c in bot.slack.delivered("chat.postMessage") if "could not revoke it" in text_of(c)]
    assert sorted(c.params["channel"] for c in told) == sorted([ADMIN, "U0ALICE", "U0CAROL"])  # each once
    assert len(posts()) == in_channel  # nothing in the channel
    shared = [c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"] == ADMIN
              and "shared with another organisation" in text_of(c)]
    assert len(shared) == 1


# ---- two replicas on one PostgreSQL: a claim left by a killed process -----------------------------

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


def test_a_claim_left_by_a_killed_replica_is_taken_again_once_its_lease_has_passed(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, tmp_path: Path, pg_schema: str) -> None:
    clock._now = WED_1430
    old = heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + timedelta(days=5))
    url = make_url(TEST_DATABASE_URL).render_as_string(hide_password=False)
    settings = make_settings(slack, heimdall, str(tmp_path / "unused.db"), database_url=url)

    def engine() -> Any:
        return create_engine(url, connect_args={"server_settings": {"search_path": pg_schema}})

    with running_bot(settings, clock, slack, engine=engine()) as (one, _), \
            running_bot(settings, clock, slack, engine=engine()) as (two, _):
        one.call(one.runtime.revocations.schedule_revocation(
            "alice", "ci_loader", key_expiration=old.expiration, revoke_at=WED_1430 + timedelta(hours=24),
            requested_by="U0ALICE", now=WED_1430))
        clock.advance(hours=24)
        # Replica one claims the revocation and is killed before it says what became of it (SIGKILL, an
        # out-of-memory kill, a lost node): nothing of it runs again.
        [due] = one.call(one.runtime.revocations.due_revocations(clock.now(), LEASE))
        assert one.call(one.runtime.revocations.take_revocation(due.id, now=clock.now(), worker="killed",
                                                                lease=LEASE)) == 1
        # Within the lease, replica two leaves it alone (the claimer may still be at work)…
        two.call(Sweeper(two.runtime, worker="replica-2").run("tick"))
        assert "ci_loader" in heimdall.tokens["alice"] and heimdall.calls_to("DELETE") == []
        # …once the lease has passed, it is taken again and the key is revoked.
        clock.advance(minutes=LEASE.total_seconds() / 60 + 1)
        summary: Any = two.call(Sweeper(two.runtime, worker="replica-2").run("tick"))
        assert summary.revoked_later == 1 and "ci_loader" not in heimdall.tokens["alice"]
        rows = two.call(_states(two.runtime))
        assert rows == [("done", 2)]


async def _states(rt: Any) -> list[tuple[str, int]]:
    async with rt.revocations.session() as s:
        return [(r.state, r.attempts) for r in (await s.scalars(select(ScheduledRevocation))).all()]
