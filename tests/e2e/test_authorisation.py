"""Whatever a person puts in command text, button values or form state, they reach only their own keys.

Alice tries each way in to Bob's key; Bob's key and reminders must come out untouched, and nothing
of his may be shown to her. (Admin commands' refusal of non-admins is tested with the admin commands.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.reminders.sweep import Sweeper
from bot.store.schema import KeySighting
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, revoke_value, table_rows, text_of, view_id_of

WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def keys(bot: Bot) -> None:
    bot.clock._now = WED_1430
    bot.heimdall.add_token("bob", "bobs_key", expiration=WED_1430 + timedelta(days=5))
    bot.heimdall.add_token("alice", "alices_key", expiration=WED_1430 + timedelta(days=5))


def bobs_key_intact(bot: Bot) -> None:
    assert list(bot.heimdall.tokens["bob"]) == ["bobs_key"]
    secret = bot.heimdall.tokens["bob"]["bobs_key"].apikey
    assert secret not in json.dumps([c.params for c in bot.slack.calls])
    assert bot.heimdall.calls_to("DELETE", "/users/bob/") == []
    assert bot.heimdall.calls_to("GET", "/users/bob/tokens/") == []  # no single-key read (a reveal)


def test_text_cannot_name_another_users_key(bot: Bot) -> None:
    bot.user.command("revoke bobs_key")
    update = bot.slack.wait_for("views.update")[0]
    assert "no key named *bobs_key* for you" in text_of(update)
    bot.user.command("list bob")
    assert "bobs_key" not in text_of(bot.slack.wait_for("response_url")[0])
    bobs_key_intact(bot)


@pytest.mark.parametrize("action", ["reveal_key", "revoke_key"])
def test_list_buttons_with_another_users_key(bot: Bot, action: str) -> None:
    bobs = bot.heimdall.tokens["bob"]["bobs_key"]  # the exact key, as Bob's own button would name it
    bot.user.click(action, "bobs_key" if action == "reveal_key" else revoke_value(bobs))
    reply = bot.slack.wait_for("views.update" if action == "reveal_key" else "response_url")[0]
    assert "no key named *bobs_key* for you" in text_of(reply)
    bobs_key_intact(bot)


def test_show_here_with_another_users_key(bot: Bot) -> None:
    opened = bot.user.command_modal("create")
    bot.user.click("show_key_here", "bobs_key", view_id=view_id_of(opened))
    assert "no key named *bobs_key* for you" in text_of(bot.slack.wait_for("views.update")[0])
    bobs_key_intact(bot)


def _reminder(bot: Bot) -> Any:
    bot.server.call(Sweeper(bot.runtime).run())
    return next(c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"] == "U0ALICE")


@pytest.mark.parametrize("action", ["reminder_revoke", "reminder_snooze", "reminder_mute"])
def test_reminder_buttons_forged_for_another_users_key(bot: Bot, action: str) -> None:
    dm = _reminder(bot)
    forged = json.dumps({"k": "bobs_key", "e": int((WED_1430 + timedelta(days=5)).timestamp()), "h": 0})
    bot.user.click(action, forged, channel=dm.result["channel"], message_ts=dm.result["ts"], ephemeral=False)
    bot.slack.wait_for("chat.update")
    bobs_key_intact(bot)
    bob_sightings = [r for r in table_rows(bot, KeySighting) if r["dataos_user_id"] == "bob"]
    assert all(not r["muted"] and r["snoozed_until"] is None for r in bob_sightings)


def test_renew_with_forged_old_key(bot: Bot) -> None:
    dm = _reminder(bot)
    bot.user.click("reminder_renew", json.dumps({"k": "bobs_key", "e": 1, "h": 0}), channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    opened = bot.slack.wait_for("views.open")[0]
    values = create_values(name="fresh_key", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "now"}}}
    bot.user.submit(view_id_of(opened), values)
    result = bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))[0]
    assert "*bobs_key* was already gone" in text_of(result)  # looked up as Alice's: there is none
    assert "fresh_key" in bot.heimdall.tokens["alice"]
    assert list(bot.heimdall.tokens["bob"]) == ["bobs_key"]


def test_revoke_form_with_forged_metadata(bot: Bot) -> None:
    bot.user.command("revoke alices_key")
    confirm = bot.slack.wait_for("views.update")[0]
    bobs = bot.heimdall.tokens["bob"]["bobs_key"]
    forged = {"name": "bobs_key", "exp": str(int(bobs.expiration.timestamp()))}
    bot.user.submit(confirm.params["view_id"], {}, metadata=json.dumps(forged))
    assert "no key named *bobs_key* for you" in text_of(bot.slack.wait_for("views.update", 2)[1])
    bobs_key_intact(bot)


def test_submitting_as_someone_else_acts_as_that_someone(bot: Bot) -> None:
    """The acting user is the payload's `user.id`, which Slack signs: Alice's form submitted by Bob
    creates Bob's key, for Bob, delivered to Bob."""
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name="bobs_new"), user="U0BOB")
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    assert "bobs_new" in bot.heimdall.tokens["bob"] and "bobs_new" not in bot.heimdall.tokens["alice"]
    assert bot.slack.delivered("chat.postEphemeral")[0].params["user"] == "U0BOB"
