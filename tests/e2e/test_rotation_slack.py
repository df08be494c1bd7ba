"""Rotation as people meet it, over real HTTP (the bot under uvicorn, the Slack fake, the Heimdall emulator,
a real OpenBao): the admins' command and its refusals, the schedule in `admin team`, the reminder that says
when the key rotates, Rotate now for owners only, a failure's Retry and Renew by hand, and no secret
anywhere a person, a log at DEBUG or the database could show."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.playground.slack import SlackCall
from bot.reminders.sweep import Sweeper
from bot.store.teams import Team
from tests.bao import Bao
from tests.conftest import FakeClock
from tests.e2e.conftest import Bot
from tests.e2e.harness import audit_actions, text_of
from tests.rotation_helpers import ADMIN, APP, CHANNEL, OLD, OWNER, WED_1430, channel_posts, live_keys, unique_path

D = timedelta(days=1)


GRANT = ('path "secret/data/pipelines/*" { capabilities = ["create", "read", "update"] }\n'
         'path "secret/metadata/pipelines/*" { capabilities = ["read"] }\n')


@pytest.fixture
def policy(bao: Bao) -> str:
    """The bot's own Vault policy (one per test, so that a test may take a right away and give it back)."""
    name = f"rotator-{uuid.uuid4().hex[:8]}"
    bao.policy(name, GRANT)
    return name


@pytest.fixture
def vault_token(bao: Bao, policy: str) -> str:
    return bao.token([policy])


@pytest.fixture
def bot_settings(bao: Bao, vault_token: str) -> dict[str, Any]:
    return {"vault_addr": bao.addr, "vault_token": vault_token, "vault_allowed_paths": "secret/pipelines/",
            "admin_slack_user_ids": [ADMIN]}


@pytest.fixture(autouse=True)
def wednesday(clock: FakeClock) -> None:
    clock._now = WED_1430


def own(bot: Bot, *, expires_in: timedelta = 5 * D) -> Any:
    bot.slack.add_channel(CHANNEL, "data-eng")
    bot.heimdall.add_user(APP, None, name="ETL ingest", type="application", tags=["roles:id:app-user"])
    bot.server.call(bot.runtime.teams.repo.put(Team(APP, CHANNEL, (OWNER,), (), ADMIN, WED_1430)))
    return bot.heimdall.add_token(APP, OLD, expiration=WED_1430 + expires_in)


def admin(bot: Bot, text: str, user: str = ADMIN) -> str:
    before = len(bot.slack.calls_to("response_url"))
    assert bot.user.command(text, user=user).status_code == 200
    return text_of(bot.slack.wait_for("response_url", before + 1)[-1])


def buttons(call: SlackCall) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"]}


def press(bot: Bot, post: SlackCall, action_id: str, user: str) -> None:
    bot.user.click(action_id, buttons(post)[action_id]["value"], user=user, channel=post.result["channel"],
                   message_ts=post.result["ts"], ephemeral=False)


def test_admins_set_a_rotation_see_it_and_turn_it_off(bot: Bot) -> None:
    own(bot)
    path = unique_path()
    said = admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey every 30d before 7d grace 1h")
    assert f"rotates into `secret/{path}`" not in said  # the target is shown whole, as typed
    assert f"vault:secret/{path}#apikey" in said and "every 30 days" in said and "grace 1 hour" in said
    assert "next rotation" in said and OLD in said
    shown = admin(bot, f"admin team {APP}")
    assert f"vault:secret/{path}#apikey" in shown and "next rotation" in shown
    assert f"vault:secret/{path}#apikey" in admin(bot, "admin teams")
    assert "no longer rotates" in admin(bot, f"admin team {APP} rotate off")
    assert "rotates" not in admin(bot, f"admin team {APP}")
    outcomes = [(a, o) for a, o, _ in audit_actions(bot.server) if a == "admin rotate"]
    assert outcomes == [("admin rotate", "ok"), ("admin rotate", "off")]


@pytest.mark.parametrize(("words", "says"), [
    ("rotate vault:secret/elsewhere/etl#apikey", "outside the paths the bot may write"),
    ("rotate vault:secret/pipelines#apikey", "outside the paths the bot may write"),  # the folder itself
    ("rotate vault:secret/pipelines%2F..%2Fetc#apikey", "segments of letters"),
    ("rotate vault:secret/pipelines/etl", "Name the field"),
    ("rotate secret/pipelines/etl#apikey", "starts with `vault:`"),
    ("rotate vault:secret/pipelines/../etc#apikey", "no `..`"),
    ("rotate vault:secret/pipelines/etl#apikey every 9999d", "at most the longest validity"),
    ("rotate vault:secret/pipelines/etl#apikey before 30d every 7d", "`before` must be shorter"),
    ("rotate vault:secret/pipelines/etl#apikey grace soon", "is not a grace"),
    ("rotate vault:secret/pipelines/etl#apikey sometimes 3d", "did not understand"),
])
def test_bad_targets_and_options_are_refused_with_a_sentence_and_change_nothing(
        bot: Bot, words: str, says: str) -> None:
    own(bot)
    said = admin(bot, f"admin team {APP} {words}")
    assert says in said and "Nothing was changed" in said
    assert bot.server.call(bot.runtime.rotations.target(APP)) is None
    assert ("admin rotate", "refused") in [(a, o) for a, o, _ in audit_actions(bot.server)]


def test_no_team_and_not_an_admin_are_refused(bot: Bot) -> None:
    bot.heimdall.add_user("lonely-app", None, type="application", tags=["roles:id:app-user"])
    assert "has no team" in admin(bot, "admin team lonely-app rotate vault:secret/pipelines/x#apikey")
    own(bot)
    said = admin(bot, f"admin team {APP} rotate vault:secret/pipelines/x#apikey", user="U0BOB")
    assert "for platform admins" in said
    assert bot.server.call(bot.runtime.rotations.target(APP)) is None


def test_a_rotating_keys_reminder_says_when_it_rotates_and_rotate_now_is_for_owners_only(
        bot: Bot, bao: Bao) -> None:
    key = own(bot, expires_in=6 * D)
    path = unique_path()
    admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey before 2d grace 1h")
    assert bot.server.call(Sweeper(bot.runtime).run()).team_sent == 1
    [reminder] = channel_posts(bot.slack)
    assert "rotates automatically <!date^" in text_of(reminder) and "team_reminder_renew" not in buttons(reminder)
    assert key.apikey not in text_of(reminder)
    answered = len(bot.slack.calls_to("response_url"))  # each press is answered through its response_url
    press(bot, reminder, "rotation_now", user="U0BOB")
    refusal = bot.slack.wait_for("response_url", answered + 1)[-1]
    assert "belong to its team" in text_of(refusal) and "Nothing was changed" in text_of(refusal)
    assert bao.versions("secret", path) == [] and live_keys(bot.heimdall) == [OLD]
    press(bot, reminder, "rotation_now", user=OWNER)
    started = bot.slack.wait_for("response_url", answered + 2)[-1]
    assert "Rotating" in text_of(started)
    announced = bot.slack.wait_for("chat.postMessage", where=lambda c: "was rotated" in text_of(c))[0]
    [version] = bao.versions("secret", path)
    assert version["data"]["key_name"] in text_of(announced) and f"now by {OWNER}" in version["data"]["rotated_by"]
    press(bot, reminder, "rotation_now", user=OWNER)  # pressed again: that key is no longer the one that rotates
    again = bot.slack.wait_for("response_url", answered + 3)[-1]
    assert "no longer the key" in text_of(again) or "already under way" in text_of(again)
    assert len(bao.versions("secret", path)) == 1


def test_a_failed_rotation_brings_the_renew_reminder_back_and_its_retry_is_for_owners(
        bot: Bot, bao: Bao, policy: str) -> None:
    own(bot, expires_in=6 * D)
    path = unique_path()
    admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey before 7d")
    bao.policy(policy, 'path "secret/data/other/*" { capabilities = ["read"] }')  # the right is taken away
    bot.server.call(Sweeper(bot.runtime).run())
    failure = next(c for c in channel_posts(bot.slack) if "could not be rotated" in text_of(c))
    assert "permission denied" in text_of(failure) and f"secret/data/{path}" in text_of(failure)
    reminder = next(c for c in channel_posts(bot.slack) if "expires" in text_of(c) and c is not failure)
    assert "team_reminder_renew" in buttons(reminder)  # failed: the reminder asks for a renew again
    answered = len(bot.slack.calls_to("response_url"))
    press(bot, failure, "rotation_retry", user="U0BOB")
    refusal = bot.slack.wait_for("response_url", answered + 1)[-1]
    assert "belong to its team" in text_of(refusal)
    press(bot, failure, "rotation_renew_by_hand", user=OWNER)
    opened = bot.slack.wait_for("views.open")[0]  # a loading modal first, then the form in it
    view_id = opened.result["view"]["id"]
    form = bot.slack.wait_for("views.update", where=lambda c: c.params.get("view_id") == view_id
                              and "Renew" in text_of(c) and OLD in text_of(c))[0]
    assert OLD in text_of(form)
    bao.policy(policy, GRANT)  # the operator fixes the policy; an owner presses Retry
    press(bot, failure, "rotation_retry", user=OWNER)
    bot.slack.wait_for("chat.postMessage", where=lambda c: "was rotated" in text_of(c))
    assert len(bao.versions("secret", path)) == 1
    updated = bot.slack.wait_for("chat.update", where=lambda c: "retried by" in text_of(c))[0]
    assert updated.params["ts"] == failure.result["ts"]


def test_no_secret_reaches_logs_at_debug_slack_or_the_database(
        bot: Bot, bao: Bao, clock: FakeClock, caplog: pytest.LogCaptureFixture, tmp_path: Path,
        vault_token: str) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    old = own(bot)
    path = unique_path()
    admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey grace 1h")
    bot.server.call(Sweeper(bot.runtime).run())
    clock.advance(hours=2)
    bot.server.call(Sweeper(bot.runtime).run())
    [version] = bao.versions("secret", path)
    secrets = [old.apikey, version["data"]["apikey"], vault_token]
    assert live_keys(bot.heimdall) == [version["data"]["key_name"]]
    logs = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {json.dumps(r.__dict__, default=str)}"
                     for r in caplog.records)
    slack_seen = json.dumps([c.params for c in bot.slack.calls], default=str)
    database = b"".join(p.read_bytes() for p in tmp_path.glob("bot.db*"))
    for secret in secrets:
        assert secret not in logs, "a secret in the logs"
        assert secret not in slack_seen, "a secret sent to Slack"
        assert secret.encode() not in database, "a secret in the database"
    assert any("vault" in r.getMessage() for r in caplog.records)  # the Vault calls were logged, without answers
