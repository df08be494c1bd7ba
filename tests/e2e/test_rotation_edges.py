"""Rotation at its edges, over real HTTP (the bot under uvicorn, the Slack and DataOS stand-ins, a real
OpenBao): its buttons answer where they were pressed (a DM the bot is not in, too), Renew by hand opens
its form within the trigger's 3 seconds however slow the owner check, the reminder's sentence reads right
whatever the day, and the admins' command refuses a team whose DataOS user is a person now."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, timedelta
from typing import Any

import pytest

from bot.playground.mrkdwn import Viewer, mrkdwn
from bot.playground.slack import SlackCall
from bot.reminders.sweep import Sweeper
from bot.rotation.engine import OLD_KEY_TELL_AFTER
from bot.store.rotations import Target
from bot.store.teams import Team
from tests.bao import Bao
from tests.conftest import FakeClock
from tests.e2e.conftest import Bot
from tests.e2e.harness import audit_actions, text_of, view_id_of
from tests.e2e.test_rotation_slack import GRANT, admin, buttons, own, press
from tests.rotation_helpers import ADMIN, APP, CHANNEL, OLD, OWNER, WED_1430, channel_posts, live_keys, unique_path

D = timedelta(days=1)
#: A DM between two people: the bot is in neither side of it, so Slack refuses its chat.postEphemeral there.
PAIR_DM = "D0PAIRDM"


@pytest.fixture
def policy(bao: Bao) -> str:
    name = f"rotator-{uuid.uuid4().hex[:8]}"
    bao.policy(name, GRANT)
    return name


@pytest.fixture
def bot_settings(bao: Bao, policy: str) -> dict[str, Any]:
    return {"vault_addr": bao.addr, "vault_token": bao.token([policy]), "vault_allowed_paths": "secret/pipelines/",
            "admin_slack_user_ids": [ADMIN]}


@pytest.fixture(autouse=True)
def wednesday(clock: FakeClock) -> None:
    clock._now = WED_1430


def test_rotate_now_answers_through_the_response_url_in_a_dm_the_bot_is_not_in(bot: Bot, bao: Bao) -> None:
    own(bot, expires_in=6 * D)
    path = unique_path()
    admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey before 2d grace 1h")
    # Alice lists the team's keys in her DM with Bob: the list comes back through the command's response_url
    bot.user.command(f"list {APP}", user=OWNER, channel=PAIR_DM)
    listed = bot.slack.wait_for("response_url", where=lambda c: "rotation_now" in text_of(c))[0]
    value = buttons(listed)["rotation_now"]["value"]
    before = len(bot.slack.calls_to("response_url"))
    bot.user.click("rotation_now", value, user="U0BOB", channel=PAIR_DM)
    refusal = bot.slack.wait_for("response_url", before + 1)[-1]
    assert "belong to its team" in text_of(refusal) and "Nothing was changed" in text_of(refusal)
    assert refusal.params["replace_original"] is False and refusal.params["response_type"] == "ephemeral"
    assert bao.versions("secret", path) == [] and live_keys(bot.heimdall) == [OLD]
    bot.user.click("rotation_now", value, user=OWNER, channel=PAIR_DM)
    started = bot.slack.wait_for("response_url", before + 2)[-1]
    assert "Rotating" in text_of(started) and started.params["replace_original"] is False
    bot.slack.wait_for("chat.postMessage", where=lambda c: "was rotated" in text_of(c))
    assert len(bao.versions("secret", path)) == 1
    assert bot.slack.calls_to("chat.postEphemeral") == []  # nothing Slack would refuse in that DM


def test_renew_by_hand_opens_its_form_within_the_triggers_three_seconds_however_slow_the_owner_check(
        bot: Bot, bao: Bao, policy: str) -> None:
    own(bot, expires_in=6 * D)
    path = unique_path()
    admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey before 7d")
    bao.policy(policy, 'path "secret/data/other/*" { capabilities = ["read"] }')  # the rotation fails
    bot.server.call(Sweeper(bot.runtime).run())
    failure = next(c for c in channel_posts(bot.slack) if "could not be rotated" in text_of(c))
    bot.slack.hold("users.info")  # Slack is slow to say who Carol is
    press(bot, failure, "rotation_renew_by_hand", user="U0CAROL")
    bot.slack.wait_for("held:users.info")
    bot.clock.advance(seconds=5)  # the trigger would be dead by now
    bot.slack.release()
    opened = bot.slack.wait_for("views.open")[0]
    assert opened.result["ok"] is True and "Checking" in text_of(opened)
    told = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened))[0]
    assert "belong to its team" in text_of(told) or "Nothing was changed" in text_of(told)
    assert live_keys(bot.heimdall) == [OLD]


@pytest.mark.parametrize(("expires_in", "reads"), [
    (2 * D + timedelta(hours=1), "rotates automatically on Nov 25, 2026 at 3:30 PM"),  # today
    (3 * D + timedelta(hours=1), "rotates automatically on Nov 26, 2026 at 3:30 PM"),  # tomorrow
    (6 * D, "rotates automatically on Nov 29, 2026 at 2:30 PM"),
])
def test_a_rotating_teams_reminder_reads_right_for_today_tomorrow_and_a_date(
        bot: Bot, expires_in: timedelta, reads: str) -> None:
    own(bot, expires_in=expires_in)
    admin(bot, f"admin team {APP} rotate vault:secret/{unique_path()}#apikey before 2d grace 1h")
    bot.clock.advance(minutes=1)
    target = bot.server.call(bot.runtime.rotations.target(APP))
    assert target is not None and target.next_at is not None
    summary = bot.server.call(Sweeper(bot.runtime).run())
    reminders = [c for c in channel_posts(bot.slack) if "expires" in text_of(c)]
    assert summary.team_sent >= 1 and reminders, summary
    section = reminders[0].params["blocks"][0]["text"]["text"]  # as a person reads it: in their day, their zone
    read = re.sub(r"<[^>]+>", "", mrkdwn(section, Viewer(OWNER, UTC, bot.clock.now())))
    assert "on today" not in read and "on tomorrow" not in read and "on yesterday" not in read
    assert reads in read, read


def test_the_admins_rotate_refuses_a_team_whose_dataos_user_is_a_person_now(bot: Bot) -> None:
    own(bot)
    bot.heimdall.add_user(APP, "someone@example.com", type="person")  # DataOS re-created that id as a person
    said = admin(bot, f"admin team {APP} rotate vault:secret/{unique_path()}#apikey")
    assert "is a person in DataOS now" in said and "Nothing was changed" in said
    assert bot.server.call(bot.runtime.rotations.target(APP)) is None
    assert ("admin rotate", "refused") in [(a, o) for a, o, _ in audit_actions(bot.server)]


@pytest.mark.parametrize("bot_settings", [{"admin_slack_user_ids": [ADMIN]}])  # no VAULT_ADDR: no store
def test_a_teams_reminder_asks_for_a_renew_when_the_bot_has_no_secret_store(bot: Bot) -> None:
    own(bot, expires_in=6 * D)
    # a rotation set while the bot had a store; its settings have lost VAULT_ADDR since
    bot.server.call(bot.runtime.rotations.put_target(Target(
        APP, "team", "vault:secret/pipelines/etl#apikey", 720, 48, 3600, "on", OLD, WED_1430 + 6 * D,
        WED_1430 + 4 * D, ADMIN, WED_1430), now=WED_1430))
    assert bot.server.call(Sweeper(bot.runtime).run()).team_sent == 1
    [reminder] = channel_posts(bot.slack)
    assert "rotates automatically" not in text_of(reminder) and "team_reminder_renew" in buttons(reminder)
    bot.user.command(f"list {APP}", user=OWNER)  # nor does the team list offer a rotation that cannot happen
    listed = bot.slack.wait_for("response_url", where=lambda c: f"Keys of {APP}" in text_of(c))[-1]
    assert "rotation_now" not in text_of(listed) and "next rotation" not in text_of(listed)


def test_an_old_key_whose_revoke_keeps_failing_is_named_to_the_owners_and_admins_once(bot: Bot, bao: Bao) -> None:
    old = own(bot)
    path = unique_path()
    admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey grace 1h")
    bot.server.call(Sweeper(bot.runtime).run())
    [announced] = [c for c in channel_posts(bot.slack) if "was rotated" in text_of(c)]
    new_name = bao.versions("secret", path)[0]["data"]["key_name"]
    # DataOS refuses to delete the old key, for ever
    bot.heimdall.fail_next(1000, 500, match=f"DELETE /heimdall/api/v1/users/{APP}/tokens/{OLD}")
    bot.clock.advance(hours=1, minutes=1)  # the grace is over: "the old key stops working" was promised

    def stuck() -> list[SlackCall]:
        return [c for c in bot.slack.delivered("chat.postMessage") if "could not revoke" in text_of(c)]

    for _ in range(OLD_KEY_TELL_AFTER - 1):
        bot.server.call(Sweeper(bot.runtime).run())
        bot.clock.advance(minutes=11)
    assert stuck() == [] and live_keys(bot.heimdall) == sorted([OLD, new_name])  # retried quietly at first
    for _ in range(3):
        bot.server.call(Sweeper(bot.runtime).run())
        bot.clock.advance(minutes=11)
    told = stuck()
    assert sorted(c.params["channel"] for c in told) == sorted([CHANNEL, ADMIN])  # each once, however many passes
    for call in told:  # the exact key: its name and when it expires, and that it still works
        said = text_of(call)
        assert OLD in said and f"^{int(old.expiration.timestamp())}^" in said and "still works" in said
        assert old.apikey not in said
    updated = bot.slack.wait_for("chat.update", where=lambda c: c.params["ts"] == announced.result["ts"])[-1]
    assert "could not be revoked" in text_of(updated)  # the promise in the channel's message is taken back
    rotation = bot.server.call(bot.runtime.rotations.active(APP))
    assert rotation is not None and OLD in (rotation.error or "") and "told" in (rotation.error or "")
    # an owner revokes it from the message; the rotation then finds it gone and finishes
    bot.heimdall.faults.clear()
    post = next(c for c in told if c.params["channel"] == CHANNEL)
    press(bot, post, "overdue_revoke_now", user=OWNER)
    bot.slack.wait_for("chat.update", where=lambda c: c.params["ts"] == post.result["ts"] and "revoked" in text_of(c))
    assert live_keys(bot.heimdall) == [new_name]
    bot.server.call(Sweeper(bot.runtime).run())
    assert bot.server.call(bot.runtime.rotations.active(APP)) is None


def test_a_team_key_may_not_share_a_secret_with_another_teams_key_or_the_bots_own(bot: Bot) -> None:
    """Whatever reads a secret reads every field of it: a team's key written beside the bot's own key (or
    another team's) would hand that key to the team's workloads."""
    own(bot)
    bot.heimdall.add_user("export-job", None, type="application", tags=["roles:id:app-user"])
    bot.heimdall.add_token("export-job", "exporter", expiration=WED_1430 + 20 * D)
    bot.server.call(bot.runtime.teams.repo.put(Team("export-job", "C0DATAENG", (OWNER,), (), ADMIN, WED_1430)))
    shared = unique_path()
    assert "rotates into" in admin(bot, f"admin team export-job rotate vault:secret/{shared}#apikey")
    said = admin(bot, f"admin team {APP} rotate vault:secret/{shared}#other_field")
    assert "export-job" in said and "Nothing was changed" in said
    # the bot's own key, read from (and rotated into) the store with DATAOS_APIKEY_FROM
    mine = unique_path()
    bot.server.call(bot.runtime.rotations.put_target(Target(
        "operator", "bot", f"vault:secret/{mine}#apikey", None, 168, 3600, "on", None, None, None,
        "DATAOS_APIKEY_FROM", WED_1430), now=WED_1430))
    said = admin(bot, f"admin team {APP} rotate vault:secret/{mine}#apikey")
    assert "the bot's own" in said and "Nothing was changed" in said
    assert bot.server.call(bot.runtime.rotations.target(APP)) is None


def test_a_rotation_writes_over_a_secret_whose_newest_version_was_deleted(bot: Bot, bao: Bao) -> None:
    """Someone deleted the secret's newest version (a soft delete, as the UI's Delete does): its metadata still
    counts that version, so the next write's check-and-set must name it, not 0 ("nothing there")."""
    own(bot)
    path = unique_path()
    bao.call("POST", f"secret/data/{path}", {"data": {"apikey": "left-over"}})
    bao.call("DELETE", f"secret/data/{path}")
    admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey grace 1h")
    summary = bot.server.call(Sweeper(bot.runtime).run())
    assert not [c for c in channel_posts(bot.slack) if "could not be rotated" in text_of(c)], summary
    [announced] = [c for c in channel_posts(bot.slack) if "was rotated" in text_of(c)]
    versions = bao.versions("secret", path)
    assert [v["version"] for v in versions] == [1, 2] and "version 2" in text_of(announced)


def test_a_rotation_makes_no_key_once_the_teams_dataos_user_is_a_person(bot: Bot, bao: Bao) -> None:
    """DataOS re-created the id as a person after the rotation was set: its next rotation would make a key for
    that person and hand it to whatever reads the team's secret."""
    own(bot)
    path = unique_path()
    admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey grace 1h")
    bot.heimdall.add_user(APP, "someone@example.com", type="person")
    bot.server.call(Sweeper(bot.runtime).run())
    assert live_keys(bot.heimdall) == [OLD] and bao.versions("secret", path) == []
    assert not [c for c in channel_posts(bot.slack) if "was rotated" in text_of(c)]
    target = bot.server.call(bot.runtime.rotations.target(APP))
    assert target is not None and target.state == "failed" and "is a person in DataOS now" in (target.last_error or "")
