"""The Home tab, the audit channel, Events API retries, and the deactivation notice for admins."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, revoke_value, text_of, view_id_of

ADMIN = "U0ADMIN"
AUDIT = "C0AUDIT"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN, "audit_channel": AUDIT}


def home_opened(bot: Bot, user: str = "U0ALICE", **kw: Any) -> Any:
    return bot.user.event({"type": "app_home_opened", "user": user, "channel": "D0", "tab": "home",
                           "event_ts": "1.2"}, **kw)


def published(bot: Bot, n: int = 1) -> dict[str, Any]:
    return bot.slack.wait_for("views.publish", n)[n - 1].params


def test_home_tab_shows_mapping_keys_actions_and_reminder_setting(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "ci_loader", hours=72)
    assert home_opened(bot).status_code == 200
    call = published(bot)
    assert call["user_id"] == "U0ALICE" and call["view"]["type"] == "home"
    text = json.dumps(call["view"], ensure_ascii=False)
    assert "You are DataOS user `alice`, mapped by your Slack e-mail" in text
    assert "ci_loader" in text and key.apikey not in text and "expiring soon" in text
    actions = {e["action_id"] for b in call["view"]["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert {"open_create", "home_reminders", "reveal_key", "revoke_key", "reminder_renew"} <= actions
    assert "Expiry reminders are *on*" in text


def test_home_refreshes_after_actions(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "old_one", hours=72)
    home_opened(bot)
    block, button = next((b, e) for b in published(bot)["view"]["blocks"] if b["type"] == "actions"
                         for e in b["elements"] if e["action_id"] == "revoke_key")
    # revoke from the Home tab: the tab is redrawn with a notice, without the key
    bot.user.click("revoke_key", button["value"], view_id="VHOMEU0ALICE", block_id=block["block_id"])
    redrawn = bot.slack.wait_for("views.publish", 2)[1]
    assert "Key *old_one* revoked" in text_of(redrawn) and bot.heimdall.tokens["alice"] == {}
    assert bot.slack.calls_to("response_url") == []  # nothing to answer from the Home tab but the tab
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name="new_one"))
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    latest = bot.slack.wait_for("views.publish", where=lambda c: "new_one" in text_of(c))[-1]
    assert "old_one" not in text_of(latest)
    # the reminder toggle on the Home tab
    bot.user.click("home_reminders", "off")
    off = bot.slack.wait_for("views.publish", where=lambda c: "Expiry reminders are *off*" in text_of(c))
    assert off


def test_home_for_an_unmapped_person_says_how_to_link(bot: Bot) -> None:
    home_opened(bot, user="U0DAVE")
    assert "/apikey link" in json.dumps(published(bot)["view"])


def test_event_retries_do_no_work_twice(bot: Bot) -> None:
    assert home_opened(bot, event_id="EvA").status_code == 200
    published(bot)
    for n in (1, 2, 3):
        assert home_opened(bot, event_id="EvA", retry=n).status_code == 200
    assert bot.server.call(bot.runtime.drain(10))
    assert len(bot.slack.calls_to("views.publish")) == 1


def test_audit_channel_gets_one_line_per_action_without_secrets(bot: Bot) -> None:
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name="audited"))
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    bot.user.click("reveal_key", "audited")
    secret = bot.heimdall.tokens["alice"]["audited"].apikey
    bot.slack.wait_for("views.update", where=lambda c: secret in text_of(c))
    bot.user.click("revoke_key", revoke_value(bot.heimdall.tokens["alice"]["audited"]))
    lines = bot.slack.wait_for("chat.postMessage", 3, where=lambda c: c.params.get("channel") == AUDIT)
    texts = [c.params["text"] for c in lines]
    assert texts[0].startswith(":key: <@U0ALICE> create `audited` of `alice` (expires <!date^")
    assert texts[0].endswith("→ done")
    assert "reveal `audited`" in texts[1] and "revoke `audited`" in texts[2]
    assert not [t for t in texts if secret in t]


def test_deactivated_member_admins_get_revoke_all(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    for name in ("one", "two"):
        bot.heimdall.add_token("bob", name, hours=72)
    bob = dict(bot.slack.users["U0BOB"], deleted=True)
    assert bot.user.event({"type": "user_change", "user": bob}).status_code == 200
    dm = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == ADMIN)[0]
    assert "<@U0BOB> was deactivated" in text_of(dm) and "`one`" in text_of(dm) and "`two`" in text_of(dm)
    button = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert button["action_id"] == "admin_revoke_all" and "confirm" in button
    bot.user.click("admin_revoke_all", button["value"], user="U0ALICE", channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    refused = bot.slack.wait_for("chat.postEphemeral")[0]  # to the clicker only; the admin's notice stays
    assert "Only platform admins" in text_of(refused) and refused.params["user"] == "U0ALICE"
    assert len(bot.heimdall.tokens["bob"]) == 2 and bot.slack.calls_to("chat.update") == []
    bot.user.click("admin_revoke_all", button["value"], user=ADMIN, channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    done = bot.slack.wait_for("chat.update")[0]
    assert "revoked 2 of the 2 listed keys of <@U0BOB>" in text_of(done)
    assert bot.heimdall.tokens["bob"] == {}
    assert bot.server.call(bot.runtime.drain(10))  # the audit channel is posted to at Slack's pace
    audit_lines = [line for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == AUDIT
                   for line in c.params["text"].splitlines()]
    assert len([t for t in audit_lines if "admin revoke" in t]) == 2


def test_active_member_changes_are_ignored(bot: Bot) -> None:
    bot.heimdall.add_token("bob", "kept", hours=72)
    bot.user.event({"type": "user_change", "user": dict(bot.slack.users["U0BOB"])})
    assert bot.server.call(bot.runtime.drain(10))
    assert bot.slack.calls_to("chat.postMessage") == []


def test_member_events_keep_the_stored_slack_directory_current(bot: Bot) -> None:
    from bot.store.schema import SlackMember
    from tests.e2e.harness import table_rows

    bot.server.call(bot.runtime.slack_directory.members())  # the first walk
    walks = len(bot.slack.calls_to("users.list"))
    erin = bot.slack.add_user("U0ERIN", "erin@example.com", tz="UTC", tz_offset=0)
    assert bot.user.event({"type": "team_join", "user": erin}, event_id="EvJOIN").status_code == 200
    bob = dict(bot.slack.users["U0BOB"], deleted=True)
    assert bot.user.event({"type": "user_change", "user": bob}, event_id="EvLEFT").status_code == 200
    assert bot.server.call(bot.runtime.drain(10))
    stored = {r["slack_user_id"]: r["email"] for r in table_rows(bot, SlackMember)}
    assert stored.get("U0ERIN") == "erin@example.com" and "U0BOB" not in stored
    members = bot.server.call(bot.runtime.slack_directory.members())
    assert "U0ERIN" in members and "U0BOB" not in members
    assert len(bot.slack.calls_to("users.list")) == walks  # no walk for either event
