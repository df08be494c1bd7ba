"""Every button acts on exactly what it showed (#20 B, #23 1 and 15), over real HTTP.

A key is its name AND its expiration: a key revoked and made again under the same name is another key.
Each test presses a button the way Slack does (that element's block_id and value) after something
changed in DataOS, and checks what DataOS and the person see.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.blocks.common import DAMAGED_BUTTON
from bot.store.schema import AuditEntry
from tests.e2e.conftest import Bot
from tests.e2e.harness import table_rows, text_of

ADMIN = "U0ADMIN"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN}


@pytest.fixture(autouse=True)
def admin_user(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")


def audit(bot: Bot) -> list[tuple[str, str, str | None]]:
    return [(r["action"], r["outcome"], r["key_name"]) for r in table_rows(bot, AuditEntry)]


def actions(blocks: list[dict[str, Any]], action_id: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(block, element) of every element with `action_id`, in the order Slack shows them."""
    return [(b, e) for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id]


def press(bot: Bot, block: dict[str, Any], element: dict[str, Any], user: str = "U0ALICE", **where: Any) -> None:
    """What Slack sends for a click on `element`: its action_id, its block's id and its own value."""
    bot.user.click(element["action_id"], element["value"], user=user, block_id=block["block_id"], **where)


# ---- #23.1 and #23.15: an admin's Revoke, and the owner told ----------------------------------------


def test_admin_revoke_on_the_second_key_revokes_that_key_and_tells_its_owner(bot: Bot) -> None:
    bot.heimdall.add_token("bob", "nightly_loader", hours=48)
    bot.heimdall.add_token("bob", "notebook_sandbox", hours=96)
    bot.user.command("admin keys <@U0BOB|bob>", user=ADMIN)
    listing = bot.slack.wait_for("response_url")[0].params["blocks"]
    buttons = actions(listing, "admin_revoke")
    assert len(buttons) == 2
    ids = [block["block_id"] for block, _ in buttons]
    assert all(ids) and len(set(ids)) == 2  # Slack would otherwise not tell the two Revokes apart
    block, second = buttons[1]
    assert "notebook_sandbox" in second["confirm"]["text"]["text"]
    press(bot, block, second, user=ADMIN)
    reply = text_of(bot.slack.wait_for("response_url", 2)[1])
    assert "Revoked *notebook_sandbox* of DataOS user `bob`" in reply and "I told <@U0BOB> in a DM" in reply
    assert list(bot.heimdall.tokens["bob"]) == ["nightly_loader"]
    told = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == "U0BOB")[0]
    text = text_of(told)
    assert "<@U0ADMIN>, a platform admin, revoked your DataOS API key *notebook_sandbox*" in text
    assert f"<!date^{int(bot.clock.now().timestamp())}^" in text  # when, in the reader's time zone
    assert ("admin revoke", "ok", "notebook_sandbox") in audit(bot)
    assert ("admin revoke notice", "told", "notebook_sandbox") in audit(bot)


def test_admin_revoke_of_a_key_replaced_since_changes_nothing_and_says_so(bot: Bot) -> None:
    bot.heimdall.add_token("bob", "ci_loader", hours=48)
    bot.user.command("admin keys <@U0BOB|bob>", user=ADMIN)
    ((block, button),) = actions(bot.slack.wait_for("response_url")[0].params["blocks"], "admin_revoke")
    newer = bot.heimdall.add_token("bob", "ci_loader", hours=200)  # revoked and made again under its name
    press(bot, block, button, user=ADMIN)
    reply = text_of(bot.slack.wait_for("response_url", 2)[1])
    assert "`ci_loader` was replaced after this message; nothing was revoked." in reply
    assert bot.heimdall.tokens["bob"]["ci_loader"].apikey == newer.apikey
    assert ("admin revoke", "skipped: key changed", "ci_loader") in audit(bot)
    assert [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") == "U0BOB"] == []


def test_owner_who_cannot_be_told_is_named_to_the_admin(bot: Bot) -> None:
    bot.heimdall.add_token("bob", "k", hours=48)
    bot.user.command("admin keys <@U0BOB|bob>", user=ADMIN)
    ((block, button),) = actions(bot.slack.wait_for("response_url")[0].params["blocks"], "admin_revoke")
    bot.slack.fail("chat.postMessage", "channel_not_found")
    press(bot, block, button, user=ADMIN)
    reply = text_of(bot.slack.wait_for("response_url", 2)[1])
    assert "Revoked *k*" in reply and "I could not DM <@U0BOB>; please tell them yourself." in reply
    assert ("admin revoke notice", "not told", "k") in audit(bot)


def test_admin_revoke_of_a_user_whose_id_is_too_long_for_a_button(bot: Bot) -> None:
    long_id = "u" * 2100  # the button names them by Slack user instead, mapped again when pressed
    bot.heimdall.add_user(long_id, "long@example.com")
    bot.slack.add_user("U0LONG", "long@example.com")
    bot.heimdall.add_token(long_id, "k", hours=48)
    bot.server.call(bot.runtime.directory.refresh())
    bot.user.command("admin keys <@U0LONG>", user=ADMIN)
    ((block, button),) = actions(bot.slack.wait_for("response_url")[0].params["blocks"], "admin_revoke")
    assert len(button["value"]) <= 2000
    press(bot, block, button, user=ADMIN)
    assert "Revoked *k*" in text_of(bot.slack.wait_for("response_url", 2)[1])
    assert bot.heimdall.tokens[long_id] == {}


@pytest.mark.parametrize("value", ["nightly_loader", '{"u":"bob","k":"nightly_loader"}', "{{{"])
def test_admin_revoke_with_a_damaged_value_changes_nothing(bot: Bot, value: str) -> None:
    bot.heimdall.add_token("bob", "nightly_loader", hours=48)
    bot.user.click("admin_revoke", value, user=ADMIN, block_id="admin_revoke:0")
    assert DAMAGED_BUTTON in text_of(bot.slack.wait_for("response_url")[0])
    assert list(bot.heimdall.tokens["bob"]) == ["nightly_loader"] and bot.heimdall.calls_to("DELETE", "/") == []


# ---- a person's own Revoke: the list, the Home tab, /apikey revoke -----------------------------------


def test_list_revoke_of_a_key_replaced_since_changes_nothing_and_says_so(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "ci_loader", hours=48)
    bot.heimdall.add_token("alice", "other", hours=72)
    bot.user.command("list")
    ((block, button), _) = actions(bot.slack.wait_for("response_url")[0].params["blocks"], "revoke_key")
    newer = bot.heimdall.add_token("alice", "ci_loader", hours=300)
    press(bot, block, button)
    reply = text_of(bot.slack.wait_for("response_url", 2)[1])
    assert "`ci_loader` was replaced after this message; nothing was revoked." in reply
    assert bot.heimdall.tokens["alice"]["ci_loader"].apikey == newer.apikey and "other" in bot.heimdall.tokens["alice"]
    assert ("revoke", "skipped: key changed", "ci_loader") in audit(bot)


def test_home_revoke_of_a_key_replaced_since_changes_nothing_and_says_so(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "ci_loader", hours=48)
    bot.user.event({"type": "app_home_opened", "user": "U0ALICE", "channel": "D0", "tab": "home", "event_ts": "1"})
    home = bot.slack.wait_for("views.publish")[0].params["view"]
    ((block, button),) = actions(home["blocks"], "revoke_key")
    newer = bot.heimdall.add_token("alice", "ci_loader", hours=300)
    press(bot, block, button, view_id="VHOMEU0ALICE")
    redrawn = text_of(bot.slack.wait_for("views.publish", 2)[1])
    assert "`ci_loader` was replaced after this message; nothing was revoked." in redrawn
    assert bot.heimdall.tokens["alice"]["ci_loader"].apikey == newer.apikey


def test_a_revoke_button_without_its_expiration_is_damaged_and_changes_nothing(bot: Bot) -> None:
    """The old shape of the button (the name alone) could hit a newer key: it is refused, not guessed at."""
    bot.heimdall.add_token("alice", "ci_loader", hours=48)
    bot.user.click("revoke_key", "ci_loader")
    assert DAMAGED_BUTTON in text_of(bot.slack.wait_for("response_url")[0])
    bot.user.event({"type": "app_home_opened", "user": "U0ALICE", "channel": "D0", "tab": "home", "event_ts": "1"})
    bot.slack.wait_for("views.publish")
    bot.user.click("revoke_key", "ci_loader", view_id="VHOMEU0ALICE")
    assert DAMAGED_BUTTON in text_of(bot.slack.wait_for("views.publish", 2)[1])  # and the tab is drawn afresh
    assert "ci_loader" in bot.heimdall.tokens["alice"] and bot.heimdall.calls_to("DELETE", "/") == []


def test_revoke_confirm_of_a_key_replaced_while_it_was_open_changes_nothing(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "ci_loader", hours=48)
    bot.user.command("revoke ci_loader")
    confirm = bot.slack.wait_for("views.update")[0]
    newer = bot.heimdall.add_token("alice", "ci_loader", hours=300)
    bot.user.submit(confirm.params["view_id"], {})
    done = text_of(bot.slack.wait_for("views.update", 2)[1])
    assert "`ci_loader` was replaced after this window opened; nothing was revoked." in done
    assert bot.heimdall.tokens["alice"]["ci_loader"].apikey == newer.apikey


def test_revoke_confirm_whose_metadata_lost_the_expiration_changes_nothing(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "ci_loader", hours=48)
    bot.user.command("revoke ci_loader")
    confirm = bot.slack.wait_for("views.update")[0]
    answer = bot.user.submit(confirm.params["view_id"], {}, metadata='{"name": "ci_loader"}').json()
    assert answer["response_action"] == "update" and "nothing was revoked" in str(answer["view"])
    assert "ci_loader" in bot.heimdall.tokens["alice"] and bot.heimdall.calls_to("DELETE", "/") == []


# ---- "Revoke all N" on a deactivation notice --------------------------------------------------------


def test_revoke_all_revokes_exactly_the_listed_keys_and_names_the_newer_ones(bot: Bot) -> None:
    for name in ("one", "two"):
        bot.heimdall.add_token("bob", name, hours=72)
    bot.user.event({"type": "user_change", "user": dict(bot.slack.users["U0BOB"], deleted=True)})
    notice = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == ADMIN)[0]
    ((block, button),) = actions(notice.params["blocks"], "admin_revoke_all")
    assert button["text"]["text"] == "Revoke all 2"
    newer_two = bot.heimdall.add_token("bob", "two", hours=200)  # replaced after the notice
    bot.heimdall.add_token("bob", "three", hours=72)  # made after the notice
    press(bot, block, button, user=ADMIN, channel=notice.result["channel"], message_ts=notice.result["ts"],
          ephemeral=False)
    done = text_of(bot.slack.wait_for("chat.update")[0])
    assert "revoked 1 of the 2 listed keys of <@U0BOB>" in done and "`one`" in done
    assert "1 of the listed keys was already gone." in done
    assert "Left alone, made or replaced after this message: `two`, `three`." in done
    assert sorted(bot.heimdall.tokens["bob"]) == ["three", "two"]
    assert bot.heimdall.tokens["bob"]["two"].apikey == newer_two.apikey
    assert [a for a in audit(bot) if a[0] == "admin revoke"] == [("admin revoke", "ok", "one")]


def test_revoke_all_with_a_damaged_value_changes_nothing(bot: Bot) -> None:
    bot.heimdall.add_token("bob", "one", hours=72)
    bot.user.click("admin_revoke_all", '{"u":"bob","s":"U0BOB"}', user=ADMIN, block_id="revoke_all:1",
                   channel="D0ADMIN", ephemeral=False)
    said = bot.slack.wait_for("chat.postEphemeral")[0]
    assert DAMAGED_BUTTON in text_of(said) and said.params["user"] == ADMIN
    assert list(bot.heimdall.tokens["bob"]) == ["one"] and bot.heimdall.calls_to("DELETE", "/") == []


def test_revoke_all_keeps_its_button_when_dataos_failed_on_a_key(bot: Bot) -> None:
    for name in ("one", "two"):
        bot.heimdall.add_token("bob", name, hours=72)
    bot.user.event({"type": "user_change", "user": dict(bot.slack.users["U0BOB"], deleted=True)})
    notice = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == ADMIN)[0]
    ((block, button),) = actions(notice.params["blocks"], "admin_revoke_all")
    message = {"type": "message", "ts": notice.result["ts"], "blocks": notice.params["blocks"]}
    bot.heimdall.fail_next(1, 400, match="DELETE")  # the first of the two
    where = dict(channel=notice.result["channel"], message_ts=notice.result["ts"], ephemeral=False)
    bot.user.interact(_with_message(bot, block, button, message, **where))
    first = bot.slack.wait_for("chat.update")[0]
    assert "DataOS did not revoke `one`" in text_of(first) and list(bot.heimdall.tokens["bob"]) == ["one"]
    kept = actions(first.params["blocks"], "admin_revoke_all")
    assert kept == [(block, button)]  # pressing again is safe: it names the same exact keys
    bot.user.interact(_with_message(bot, block, button, message, **where))
    second = text_of(bot.slack.wait_for("chat.update", 2)[1])
    assert "revoked 1 of the 2 listed keys" in second and "1 of the listed keys was already gone." in second
    assert bot.heimdall.tokens["bob"] == {}


def _with_message(bot: Bot, block: dict[str, Any], button: dict[str, Any], message: dict[str, Any], *,
                  channel: str, message_ts: str, ephemeral: bool) -> dict[str, Any]:
    """A click on a message that is not ephemeral: Slack includes the message as it is shown."""
    return {"type": "block_actions", "user": {"id": ADMIN, "username": "admin", "team_id": "T0123"},
            "team": {"id": "T0123", "domain": "acme"}, "api_app_id": "A0ABC", "trigger_id": "1.2.click",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                          "is_ephemeral": ephemeral},
            "channel": {"id": channel, "name": "directmessage"}, "message": message,
            "actions": [{"type": "button", "action_id": button["action_id"], "block_id": block["block_id"],
                         "value": button["value"], "action_ts": "1700000001.000200"}]}
