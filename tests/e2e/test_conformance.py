"""Slack's rules the bot must follow even where a lenient fake would let it off: text escaping in and
out, trigger lifetimes under rate limits, how a modal submission is answered, and size limits."""

from __future__ import annotations

import itertools
import json
import logging
import re
from typing import Any

import httpx
import pytest

import bot.slack.views as views_module
from bot.playground.slack import TRIGGER_SECONDS
from bot.store import Audit
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, text_of, view_id_of

ADMIN = "U0ADMIN"
AUDIT = "C0AUDIT"
#: What may stand between `<` and `>` in mrkdwn: Slack's own entities and links; anything else is read as a
#: link and vanishes from what the person sees.
_ENTITY = re.compile(r"^(?:[@#!]|https?://|mailto:)")


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN, "audit_channel": AUDIT, "leak_watch": True}


def mrkdwn_texts(value: Any) -> list[str]:
    """Every text Slack reads as mrkdwn in a payload: mrkdwn objects and a message's `text`."""
    found: list[str] = []
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            found.append(value["text"])
        if isinstance(value.get("text"), str) and "blocks" in value:
            found.append(value["text"])
        for item in value.values():
            found += mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            found += mrkdwn_texts(item)
    return found


def stray_angles(payload: Any) -> list[str]:
    return [m for text in mrkdwn_texts(payload) for m in re.findall(r"<([^<>]*)>", text) if not _ENTITY.match(m)]


# ---- 22. slash command text: unescaped once in, escaped once out -----------------------------------------


def test_an_unknown_subcommand_with_an_ampersand_is_shown_as_typed(bot: Bot) -> None:
    body = bot.user.command("R&amp;D").json()  # Slack sends `R&D` escaped
    text = json.dumps(body)
    assert "I don't know `r&amp;d`" in text  # escaped once: the person reads "r&d"
    assert "&amp;amp;" not in text


def test_create_prefills_the_name_as_typed(bot: Bot) -> None:
    opened = bot.user.command_modal("create R&amp;D_key 30d")
    view = opened.params["view"]
    name_input = next(b["element"] for b in view["blocks"] if b.get("block_id", "").startswith("name_block"))
    assert name_input["initial_value"] == "R&D_key"  # plain text: not escaped at all
    assert "&amp;amp;" not in text_of(opened)


def test_a_mention_in_command_text_stays_a_mention(bot: Bot) -> None:
    bot.user.command("admin keys <@U0BOB|bob>", user=ADMIN)
    reply = bot.slack.wait_for("response_url")[0]
    assert "<@U0BOB>" in text_of(reply) and "Admin commands" not in text_of(reply)


# ---- 23. the bot's own placeholders are escaped ------------------------------------------------------------


def test_help_usage_and_secret_texts_have_no_stray_link_markup(bot: Bot) -> None:
    assert stray_angles(bot.user.command("help").json()) == []
    bot.user.command("admin nonsense", user=ADMIN)
    usage = bot.slack.wait_for("response_url")[0]
    assert "Admin commands" in text_of(usage) and stray_angles(usage.params) == []
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name="escaped"))
    secret = bot.slack.wait_for("chat.postEphemeral")[0]
    assert "&lt;key&gt;" in text_of(secret) and stray_angles(secret.params) == []


# ---- 20. a failure before the ack of a submission is told in the modal ---------------------------------------


def test_a_failure_before_a_submission_is_acknowledged_is_told_in_the_modal(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = bot.user.command_modal("create")

    def broken(*args: Any, **kwargs: Any) -> Any:  # a bug nobody foresaw, before the ack
        raise RuntimeError("boom")

    monkeypatch.setattr(views_module, "read_create_form", broken)
    answer = bot.user.submit(view_id_of(opened), create_values(name="unlucky"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_action"] == "update"
    assert "Something went wrong" in json.dumps(body) and "Nothing was changed" in json.dumps(body)
    assert bot.server.call(bot.runtime.drain(10))
    assert bot.slack.calls_to("views.update") == []  # nothing sent to a view that Slack had closed
    assert "unlucky" not in bot.heimdall.tokens.get("alice", {})


# ---- 21. a trigger_id is not spent after it expired ------------------------------------------------------------


def test_the_fake_expires_a_trigger_after_three_seconds_as_slack_does(bot: Bot) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "x"},
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]}  # Slack takes no empty view
    auth = {"Authorization": f"Bearer {bot.slack.token}"}
    bot.slack.trigger("fresh.1")
    bot.slack.trigger("stale.1")
    bot.clock.advance(seconds=TRIGGER_SECONDS + 0.5)
    bot.slack.trigger("fresh.2")
    for trigger, ok in (("fresh.2", True), ("stale.1", False)):
        answer = httpx.post(bot.slack.api_url + "views.open", headers=auth,
                            json={"trigger_id": trigger, "view": view}).json()
        assert answer["ok"] is ok and (ok or answer["error"] == "expired_trigger_id")


def test_a_429_on_views_open_that_outlasts_the_trigger_is_not_waited_for(bot: Bot) -> None:
    bot.slack.fail("views.open", "ratelimited", status=429, retry_after=5)
    bot.user.command("create")
    reply = text_of(bot.slack.wait_for("response_url")[0])
    assert "rate-limiting" in reply and "Nothing was changed" in reply and "Try again" in reply
    assert len(bot.slack.calls_to("views.open")) == 1  # the trigger would have expired: not spent again


def test_a_429_on_views_open_is_waited_out_while_the_trigger_lives(bot: Bot) -> None:
    bot.slack.fail("views.open", "ratelimited", status=429, retry_after=1, times=2)
    bot.user.command("create")
    opened = bot.slack.wait_for("views.open", where=lambda c: c.result.get("ok") is True)[0]
    assert opened.params["view"]["callback_id"] == "create_key"
    assert [c.result.get("ok") for c in bot.slack.calls_to("views.open")] == [False, False, True]


# ---- 25. events get a body cap that fits them --------------------------------------------------------------


def test_an_edit_of_a_long_non_ascii_message_is_read(bot: Bot) -> None:
    live = bot.heimdall.add_token("alice", "pasted", hours=48)
    text = f"{live.apikey} " + "ä" * 39_000  # Slack allows 40,000 characters
    rich = [{"type": "rich_text", "elements": [{"type": "rich_text_section",
                                                "elements": [{"type": "text", "text": text}]}]}]
    before = {"text": text[60:], "user": "U0BOB", "ts": "1.2", "blocks": rich}
    after = {"text": text, "user": "U0BOB", "ts": "1.2", "blocks": rich}
    event = {"type": "message", "subtype": "message_changed", "channel": "C0GEN", "ts": "1700000001.000200",
             "channel_type": "channel", "message": after, "previous_message": before}
    body = json.dumps({"token": "legacy", "team_id": "T0123", "api_app_id": "A0ABC", "type": "event_callback",
                       "event_id": "EvLONG", "event_time": 1700000000, "event": event})  # \u00e4: 6 bytes each
    assert len(body) > 4 * 39_000 * 6
    assert bot.user.post(body, "application/json").status_code == 200
    assert bot.server.call(bot.runtime.drain(10))
    told = [c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == "U0ALICE"]
    assert len(told) == 1 and "*pasted*" in text_of(told[0])


def test_commands_and_interactions_keep_their_smaller_cap(bot: Bot) -> None:
    assert bot.user.post("text=" + "a" * 300_000, "application/x-www-form-urlencoded").status_code == 413
    assert bot.user.post(json.dumps({"type": "event_callback", "pad": "a" * 3_000_000}),
                         "application/json").status_code == 413


# ---- 19. the audit channel: Slack's pace, and Slack's reasons named ---------------------------------------


def audit_calls(bot: Bot) -> list[Any]:
    return [c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == AUDIT]


def audit_posts(bot: Bot) -> list[str]:
    return [c.params["text"] for c in audit_calls(bot)]


def test_revoke_all_of_thirty_keys_reaches_the_audit_channel_at_its_pace_without_losing_a_line(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    for i in range(30):
        bot.heimdall.add_token("bob", f"key_{i:02d}", hours=72)
    bob = dict(bot.slack.users["U0BOB"], deleted=True)
    assert bot.user.event({"type": "user_change", "user": bob}).status_code == 200
    dm = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == ADMIN)[0]
    button = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"])
    bot.user.click("admin_revoke_all", button["value"], user=ADMIN, channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    assert "revoked 30 of the 30 listed keys" in text_of(bot.slack.wait_for("chat.update")[0])
    assert bot.server.call(bot.runtime.drain(10))
    posts = audit_posts(bot)
    lines = [line for post in posts for line in post.splitlines()]
    assert sorted(re.findall(r"admin revoke `(key_\d\d)`", "\n".join(lines))) == [f"key_{i:02d}" for i in range(30)]
    # one message a second at most on Slack's clock (in production the waits are real, and lines that
    # arrive meanwhile share the next message; here they pass at once on the test's clock)
    times = [c.clock for c in audit_calls(bot)]
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(times)), times


def test_a_lone_action_is_announced_at_once(bot: Bot) -> None:
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name="announced"))
    bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == AUDIT)
    assert len(audit_posts(bot)) == 1 and "`announced`" in audit_posts(bot)[0]


@pytest.mark.parametrize(("channel", "error", "advice"), [
    ({"member": False}, "not_in_channel", "invite the bot to the channel"),
    ({"archived": True}, "is_archived", "the channel is archived"),
])
def test_an_audit_channel_slack_refuses_is_named_in_the_log(bot: Bot, caplog: pytest.LogCaptureFixture,
                                                            channel: dict[str, bool], error: str, advice: str) -> None:
    bot.slack.add_channel(AUDIT, "apikey-audit", **channel)
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name="unheard"))
    bot.slack.wait_for("views.update", where=lambda c: "unheard" in text_of(c) and "created" in text_of(c))
    assert bot.server.call(bot.runtime.drain(10))
    logged = [r.getMessage() for r in caplog.records if "audit channel" in r.getMessage()]
    assert len(logged) == 1 and error in logged[0] and advice in logged[0] and "in the database" in logged[0]


def test_slack_errors_are_named_in_home_offboarding_and_apology_logs(
        bot: Bot, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.WARNING)
    bot.slack.fail("views.publish", "not_enabled")
    bot.user.event({"type": "app_home_opened", "user": "U0ALICE", "channel": "D0", "tab": "home"}, event_id="EvH")
    bot.slack.add_user(ADMIN, "admin@example.com")
    bot.heimdall.add_token("bob", "left", hours=72)
    bot.slack.fail("chat.postMessage", "channel_not_found")
    bot.user.event({"type": "user_change", "user": dict(bot.slack.users["U0BOB"], deleted=True)}, event_id="EvO")
    assert bot.server.call(bot.runtime.drain(10))
    doomed = bot.heimdall.add_token("alice", "doomed", hours=72)
    opened = bot.user.command_modal("revoke doomed")
    bot.slack.wait_for("views.update", where=lambda c: "doomed" in text_of(c))  # the revoke form

    async def broken(*args: Any, **kwargs: Any) -> Any:  # a bug nobody foresaw, after the ack
        raise RuntimeError("boom")

    monkeypatch.setattr(bot.runtime.keys, "revoke_exact", broken)
    bot.slack.fail("views.update", "view_not_found", times=2)  # the person closed the modal meanwhile
    exact = {"name": "doomed", "exp": str(int(doomed.expiration.timestamp()))}
    assert bot.user.submit(view_id_of(opened), {}, metadata=json.dumps(exact)).status_code == 200
    assert bot.server.call(bot.runtime.drain(10))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "could not publish the Home tab of U0ALICE: not_enabled" in logged
    assert f"could not tell admin {ADMIN} about U0BOB: channel_not_found" in logged
    assert "could not tell U0ALICE about a failure: view_not_found" in logged


# ---- 24. long admin answers are split at entry boundaries, never cut ---------------------------------------


def section_texts(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in message.get("blocks") or [] if b.get("type") == "section"]


def assert_whole(texts: list[str]) -> None:
    for text in texts:
        assert len(text) <= 3000
        outside = re.sub(r"<[^<>]*>", "", text)
        assert "<" not in outside and ">" not in outside, text  # no entity cut in half
        assert not re.search(r"&[a-z]*$", outside.split(" ")[-1] if outside else ""), text


def test_admin_audit_shows_whole_entries_across_sections_and_says_when_there_are_more(bot: Bot) -> None:
    for i in range(50):
        bot.clock.advance(seconds=1)
        bot.server.call(bot.runtime.audit_log.audit(Audit(
            at=bot.clock.now(), actor_slack_id="U0ALICE", action="create", outcome="ok",
            dataos_user_id="alice" + "x" * 50, key_name=f"entry_{i:02d}_" + "n" * 50)))
    bot.user.command("admin audit", user=ADMIN)
    message = bot.slack.wait_for("response_url")[0].params
    texts = section_texts(message)
    assert_whole(texts)
    everything = "\n".join(texts)
    assert [f"entry_{i:02d}" for i in range(49, 9, -1)] == re.findall(r"`(entry_\d\d)_n", everything)
    assert "newest 40 entries; there are more" in everything and "--days N" in everything


def test_admin_sweep_with_a_long_failure_list_answers_in_whole_sections(bot: Bot) -> None:
    for i in range(24):
        uid = f"person_{i:02d}_" + "p" * 120
        bot.heimdall.add_user(uid, f"person{i}@example.com")
        bot.slack.add_user(f"U0P{i:03d}", f"person{i}@example.com")
    bot.clock.advance(days=1)  # the bot's copies of both directories are out of date: read again
    bot.heimdall.fail_next(10_000, 503, match="/tokens")
    bot.user.command("admin sweep --discover", user=ADMIN)
    message = bot.slack.wait_for("response_url")[0].params
    texts = section_texts(message)
    assert_whole(texts)
    everything = "\n".join(texts)
    assert "Reminder sweep done" in everything and "Something went wrong" not in everything
    failures = int(re.findall(r"failures: (\d+)", everything)[0])
    assert failures > 24 and len(re.findall(r"  - \S+: listing keys failed", everything)) == 20
    assert f"… and {failures - 20} more" in everything
