"""What people read in their first hour with the bot (issue #23, items 8-14): names instead of raw ids,
sentences instead of codes, only choices that make sense, and failures in one voice. Over real HTTP."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.reminders.sweep import Sweeper
from bot.store.schema import ScheduledRevocation
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, table_rows, text_of, view_id_of

ADMIN = "U0ADMIN"
WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
AUDIT = "C0AUDIT"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN, "audit_channel": AUDIT, "snooze": "1d", "renew_grace": "24h"}


@pytest.fixture(autouse=True)
def admin_user(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com", name="Ada")


def create_key(bot: Bot, name: str, preset: str = "720h") -> None:
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name=name, preset=preset))
    bot.slack.wait_for("views.update", where=lambda c: f"Key *{name}* created" in text_of(c))


def list_reply(bot: Bot) -> dict[str, Any]:
    """The list as it reads (a quick list is the command's only answer)."""
    n = len(bot.slack.calls_to("response_url")) + 1
    bot.user.command("list")
    return bot.slack.wait_for("response_url", n)[n - 1].params


def audit_lines(bot: Bot) -> list[str]:
    """Each line posted to the audit channel (a burst goes out as one message)."""
    return [line for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == AUDIT
            for line in c.params["text"].split("\n")]


def sweep(bot: Bot) -> None:
    bot.server.call(Sweeper(bot.runtime).run())


# ---- 8: people by name -------------------------------------------------------------------------


def test_the_list_and_home_name_who_created_a_key_by_mention(bot: Bot) -> None:
    create_key(bot, "mine")
    text = json.dumps(list_reply(bot), ensure_ascii=False)
    assert "created from Slack by <@U0ALICE>" in text and "by U0ALICE" not in text
    home = bot.slack.wait_for("views.publish", where=lambda c: "mine" in text_of(c))[-1]
    assert "created from Slack by <@U0ALICE>" in text_of(home)
    # DataOS keeps a description its own UI can show, with the Slack id machine-readable
    assert bot.heimdall.tokens["alice"]["mine"].description == "created from Slack by U0ALICE"


def test_the_audit_channel_says_who_and_what_happened_in_words(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "taken", hours=48)
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name="taken"))
    bot.slack.wait_for("views.update", where=lambda c: "already have a key" in text_of(c))
    bot.user.command("admin link <@U0DAVE|dave> alice", user=ADMIN)  # Alice was alice by e-mail
    bot.slack.wait_for("chat.postMessage", where=lambda c: "takeover" in str(c.params.get("text")))
    bot.user.command("admin unlink <@U0DAVE|dave>", user=ADMIN)
    bot.slack.wait_for("chat.postMessage", where=lambda c: "admin unlink" in str(c.params.get("text")))
    bot.user.command("admin link U0DAVE nobody", user=ADMIN)
    # (the create line above says "refused" too: wait for this link's own line)
    bot.slack.wait_for("chat.postMessage", where=lambda c: "nobody" in str(c.params.get("text"))
                       and "refused" in str(c.params.get("text")))
    lines = audit_lines(bot)
    create = next(t for t in lines if " create " in t)
    assert create.endswith("→ refused by DataOS: a key with that name exists"), create
    takeover = next(t for t in lines if "link takeover" in t)
    assert ("(<@U0DAVE> now acts as this DataOS user instead of <@U0ALICE>, who was mapped by e-mail) "
            "→ the person it displaced was told") in takeover, takeover
    unlink = next(t for t in lines if "admin unlink" in t)
    assert unlink.endswith(f"<@{ADMIN}> admin unlink for <@U0DAVE> → done"), unlink
    for line in lines:
        # codes such as `error:409` or `refused:unknown-user`; the words ("refused: DataOS has no…") are fine
        assert not re.search(r"(error|refused):\S", line) and "slack user U" not in line, line
    # and the admin's own report reads the same way
    bot.user.command("admin audit", user=ADMIN)
    report = text_of(bot.slack.wait_for("response_url", where=lambda c: "Audit, last" in text_of(c))[0])
    assert "refused: DataOS has no such user" in report and "admin unlink for <@U0DAVE> → done" in report
    assert "refused:unknown-user" not in report and "error:409" not in report


# ---- 9: a form's warning is about what it holds now --------------------------------------------


def test_a_form_warning_about_the_command_goes_once_the_fields_change(bot: Bot) -> None:
    opened = bot.user.command_modal("create my-key 7d")
    view = opened.params["view"]
    assert "may contain only letters, digits and underscores, not “-”" in json.dumps(view, ensure_ascii=False)
    # the name is fixed, and a validity beyond the maximum chosen instead
    r = bot.user.submit(view_id_of(opened), create_values(name="my_key", preset="custom", custom="400d"))
    answer = r.json()
    assert answer["response_action"] == "update"
    redrawn = json.dumps(answer["view"], ensure_ascii=False)
    assert "The longest validity allowed is 365 days." in redrawn
    assert "only letters" not in redrawn  # no longer true
    inputs = {b["block_id"].split("~")[0]: b["element"] for b in answer["view"]["blocks"] if b["type"] == "input"}
    assert inputs["name_block"]["initial_value"] == "my_key" and inputs["custom_block"]["initial_value"] == "400d"
    assert bot.heimdall.calls_to("POST") == []
    # fixed again: the key is made
    redrawn_view = dict(answer["view"], id=view_id_of(opened), hash="h2")
    bot.user.submit(view_id_of(opened), create_values(name="my_key", preset="custom", custom="200d"),
                    as_view=redrawn_view)
    bot.slack.wait_for("views.update", where=lambda c: "Key *my_key* created" in text_of(c))
    assert bot.heimdall.calls_to("POST")[0].body["duration"] == f"{200 * 24}h"


def test_a_form_without_a_warning_still_gets_inline_errors(bot: Bot) -> None:
    opened = bot.user.command_modal("create")
    r = bot.user.submit(view_id_of(opened), create_values(name="ci-loader"))
    assert r.json()["response_action"] == "errors"
    error = r.json()["errors"]["name_block"]
    assert error == "A key name may contain only letters, digits and underscores, not “-”."
    r = bot.user.submit(view_id_of(opened), create_values(name="ci loader"))
    assert r.json()["errors"]["name_block"].endswith("underscores, not spaces.")


# ---- 10: sentences -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected", "absent"), [
    ("create a b c d", "e.g. 36h, 30d or 2w. I ignored the extra words: c d.", "2w I ignored"),
    ("create 9999999999999999999d", "The longest validity allowed is 365 days.", "not a validity"),
    ("create ci-loader 7d", "not “-”.", "(no spaces)"),
    ("create ci.loader/v2 7d", "not “.” or “/”.", "(no spaces)"),
])
def test_command_argument_problems_read_as_sentences(bot: Bot, text: str, expected: str, absent: str) -> None:
    view = json.dumps(bot.user.command_modal(text).params["view"], ensure_ascii=False)
    assert expected in view and absent not in view


def test_reminders_say_when_they_come_in_words(bot: Bot) -> None:
    bot.user.command("reminders")
    text = text_of(bot.slack.wait_for("response_url")[0])
    assert "Reminders come 30 days, 7 days and 1 day before a key expires" in text and "30d" not in text


def test_the_created_modal_asks_whether_the_message_arrived_only_when_one_was_sent(bot: Bot) -> None:
    create_key(bot, "sent")
    sent = bot.slack.wait_for("views.update", where=lambda c: "Key *sent* created" in text_of(c))[0]
    assert "I sent it to you privately" in text_of(sent) and "Did the message not arrive?" in text_of(sent)
    bot.slack.fail("chat.postEphemeral", "user_not_in_channel")
    create_key(bot, "unsent")
    unsent = bot.slack.wait_for("views.update", where=lambda c: "Key *unsent* created" in text_of(c))[0]
    assert "I could not deliver it" in text_of(unsent) and "Did the message not arrive?" not in text_of(unsent)


def test_a_snoozed_reminder_says_it_was_asked_for(bot: Bot) -> None:
    bot.clock._now = WED_1430  # in Alice's working hours, then and a day later
    bot.heimdall.add_token("alice", "k", hours=24 * 6)
    sweep(bot)
    dm = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") != AUDIT)[0]
    assert "The reminder 7 days before expiry." in text_of(dm)
    snooze = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == "reminder_snooze")
    assert snooze["text"]["text"] == "Remind me in 1 day"
    bot.user.click("reminder_snooze", snooze["value"], channel=dm.result["channel"], message_ts=dm.result["ts"],
                   ephemeral=False)
    bot.slack.wait_for("chat.update")
    bot.clock.advance(days=1, minutes=1)
    sweep(bot)
    sent = [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") != AUDIT]
    assert len(sent) == 2 and "You asked me to remind you again." in text_of(sent[1])
    assert "Reminder snoozed before expiry" not in text_of(sent[1])


# ---- 11: people who cannot be mapped -------------------------------------------------------------


def test_an_unmapped_person_is_told_to_ask_a_named_admin_first(bot: Bot) -> None:
    text = json.dumps(list_reply_for(bot, "U0DAVE"), ensure_ascii=False)
    assert "No DataOS user has the e-mail address dave@elsewhere.org." in text
    ask = text.index(f"Ask a platform admin (<@{ADMIN}>) to link you to your DataOS user, or to get you one.")
    assert ask < text.index("If you already have a DataOS user, you can link yourself: run `/apikey link`")


def list_reply_for(bot: Bot, user: str) -> dict[str, Any]:
    bot.user.command("list", user=user)
    return bot.slack.wait_for("response_url")[0].params


# ---- 12: slow and failing DataOS ---------------------------------------------------------------


def test_failures_speak_with_one_voice(bot: Bot) -> None:
    bot.user.command("whoami")  # warm the identity caches
    bot.slack.wait_for("response_url")
    bot.heimdall.fail_next(10, 503, match="/tokens")
    bot.user.command("list")
    listed = text_of(bot.slack.wait_for("response_url", 2)[1])
    assert "DataOS is not answering right now, so I could not finish listing your keys" in listed
    assert "Nothing was changed" not in listed and "cannot tell" not in listed  # a list changes nothing
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name="k1"))
    created = text_of(bot.slack.wait_for("views.update", where=lambda c: ":x:" in text_of(c))[0])
    assert "DataOS stopped answering while I was creating your key" in created
    assert "so I cannot tell whether it was done. Run `/apikey list` in a minute" in created
    assert "Nothing was changed" not in created  # it may have been


# ---- 13 and 14: renewing a key that is about to expire -----------------------------------------


def reminder_dm(bot: Bot, name: str) -> Any:
    return bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") != AUDIT
                              and name in str(c.params.get("text")))[0]


def buttons(call: Any) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"]}


def test_a_key_expiring_in_minutes_is_offered_only_choices_before_its_expiry(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "soon", expiration=bot.clock.now() + timedelta(minutes=42))
    sweep(bot)
    dm = reminder_dm(bot, "soon")
    offered = buttons(dm)
    assert "reminder_snooze" not in offered and "Remind me in" not in text_of(dm)
    assert {"reminder_renew", "reminder_revoke", "reminder_mute"} <= set(offered)
    bot.user.click("reminder_renew", offered["reminder_renew"]["value"], channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    form = bot.slack.wait_for("views.open")[0].params["view"]
    old = next(b["element"] for b in form["blocks"] if b.get("block_id") == "old_key_block")
    assert [o["value"] for o in old["options"]] == ["now", "keep"]
    assert old["initial_option"]["value"] == "keep"
    assert "Revoke it in 1 day" not in json.dumps(form)


def test_a_stale_renew_form_does_not_schedule_a_revocation_after_expiry(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "old", expiration=bot.clock.now() + timedelta(hours=30))
    sweep(bot)
    dm = reminder_dm(bot, "old")
    bot.user.click("reminder_renew", buttons(dm)["reminder_renew"]["value"], channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    opened = bot.slack.wait_for("views.open")[0]
    bot.clock.advance(hours=10)  # the form waited; the old key now expires in 20 hours
    values = create_values(name="new_one", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "in:24"}}}
    bot.user.submit(view_id_of(opened), values)
    result = bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))[0]
    assert "is left to expire: it expires before then" in text_of(result)
    assert table_rows(bot, ScheduledRevocation) == []


def test_the_list_and_home_show_when_a_renewed_key_stops_working(bot: Bot) -> None:
    old = bot.heimdall.add_token("alice", "ci_loader", expiration=bot.clock.now() + timedelta(days=5))
    bot.heimdall.add_token("alice", "other", hours=24 * 60)
    sweep(bot)
    dm = reminder_dm(bot, "ci_loader")
    bot.user.click("reminder_renew", buttons(dm)["reminder_renew"]["value"], channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    opened = bot.slack.wait_for("views.open")[0]
    values = create_values(name="ci_loader_2", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "in:24"}}}
    bot.user.submit(view_id_of(opened), values)
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    (scheduled,) = table_rows(bot, ScheduledRevocation)
    revoke_at = int(scheduled["revoke_at"].replace(tzinfo=UTC).timestamp())
    assert abs(revoke_at - (bot.clock.now() + timedelta(hours=24)).timestamp()) < 60
    stops = f":alarm_clock: Renewed: stops working <!date^{revoke_at}^{{date_short_pretty}} at {{time}}|"
    listed = list_reply(bot)
    sections = [b["text"]["text"] for b in listed["blocks"] if b["type"] == "section"]
    old_section = next(s for s in sections if s.startswith("*ci_loader*"))
    assert stops in old_section and "(in 24 hours), when I revoke it as you asked." in old_section
    assert all(stops not in s for s in sections if not s.startswith("*ci_loader*"))  # only that key
    home = bot.slack.wait_for("views.publish", where=lambda c: "ci_loader_2" in text_of(c))[-1]
    assert stops in text_of(home)
    assert old.apikey not in json.dumps(listed)


def test_an_old_key_that_could_not_be_revoked_is_said_in_whole_sentences(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "ci_loader", expiration=bot.clock.now() + timedelta(days=5))
    sweep(bot)
    dm = reminder_dm(bot, "ci_loader")
    bot.user.click("reminder_renew", buttons(dm)["reminder_renew"]["value"], channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    opened = bot.slack.wait_for("views.open")[0]
    bot.heimdall.fail_next(10, 503, match="DELETE")
    values = create_values(name="ci_loader_2", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "now"}}}
    bot.user.submit(view_id_of(opened), values)
    result = text_of(bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))[0])
    assert ("The old key *ci_loader* could not be revoked. DataOS is not answering right now, so I could not "
            "finish revoking the old key (reference `") in result
    assert "`). Nothing was changed. Please try again in a few minutes." in result
    updated = text_of(bot.slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == dm.result["ts"])[0])
    assert "this key could not be revoked. DataOS is not answering right now" in updated
    assert ".." not in result and ".." not in updated and "revoked: DataOS" not in result
