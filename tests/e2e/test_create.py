"""`/apikey create`: modal first, inline errors, "Creating…", private delivery, one key per submit."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest

from bot.playground.slack import SlackCall
from bot.store.schema import IdempotencyKey, KeySighting
from tests.e2e.conftest import Bot
from tests.e2e.harness import audit_actions, create_values, table_rows, text_of, view_id_of


def _open_form(bot: Bot, text: str = "create", user: str = "U0ALICE") -> SlackCall:
    assert bot.user.command(text, user=user).status_code == 200
    return bot.slack.wait_for("views.open")[0]


def _state_fields(view: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] == "input":
            element = block["element"]
            fields[block["block_id"]] = element.get("initial_value") or (element.get("initial_option") or {}).get(
                "value")
    return fields


def test_modal_opens_before_any_dataos_call_and_is_prefilled(bot: Bot) -> None:
    opened = _open_form(bot, "create ci_loader 30d")
    view = opened.params["view"]
    assert view["callback_id"] == "create_key"
    assert _state_fields(view) == {"name_block": "ci_loader", "validity_block": "720h", "custom_block": None}
    key_calls = [c for c in bot.heimdall.calls if "/tokens" in c.path]
    assert key_calls == []
    users_calls = bot.heimdall.calls_to("GET", "/users")
    # the one directory load (start-up warm-up or identity) never delays the modal
    assert all(c.at > opened.at or c.status == 200 for c in users_calls)


def test_prefill_custom_validity_and_bad_arguments_are_flagged(bot: Bot) -> None:
    view = _open_form(bot, "create 36h").params["view"]
    assert _state_fields(view) == {"name_block": None, "validity_block": "custom", "custom_block": "36h"}
    bot.user.command("create ci-loader 999d")
    view = bot.slack.wait_for("views.open", 2)[1].params["view"]
    text = json.dumps(view)
    assert "only letters, digits and underscores" in text and "longest validity allowed is 365 days" in text


def test_full_create_flow_delivers_privately(bot: Bot) -> None:
    opened = _open_form(bot)
    view_id = view_id_of(opened)
    r = bot.user.submit(view_id, create_values(name="ci_loader", preset="720h"))
    assert r.status_code == 200
    ack = r.json()
    assert ack["response_action"] == "update" and "Creating your key" in json.dumps(ack)
    result = bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))[0]
    token = bot.heimdall.tokens["alice"]["ci_loader"]
    post = bot.heimdall.calls_to("POST", "/users/alice/tokens")[0]
    assert post.body["duration"] == "720h" and post.body["name"] == "ci_loader"
    # the secret went out once, as an ephemeral message in the DM with the bot
    opened_dm = bot.slack.calls_to("conversations.open")[0]
    assert opened_dm.params["users"] == "U0ALICE"
    eph = bot.slack.calls_to("chat.postEphemeral")[0]
    assert eph.params["channel"] == "D0ALICE" and eph.params["user"] == "U0ALICE"
    assert f"```{token.apikey}```" in text_of(eph)
    assert "ci_loader" in text_of(eph) and "<!date^" in text_of(eph)
    # the modal confirms name and expiry, without the secret, with the fallback button
    assert token.apikey not in text_of(result)
    assert "Key *ci_loader* created" in text_of(result)
    assert f"<!date^{int(token.expiration.timestamp())}^" in text_of(result)
    assert "show_key_here" in text_of(result)
    assert ("create", "ok", "ci_loader") in audit_actions(bot)
    sightings = table_rows(bot, KeySighting)
    assert [(s["dataos_user_id"], s["key_name"]) for s in sightings] == [("alice", "ci_loader")]
    assert bot.slack.calls_to("chat.postMessage") == []


def test_empty_name_gets_a_dataos_style_name(bot: Bot) -> None:
    opened = _open_form(bot)
    bot.user.submit(view_id_of(opened), create_values(name=None, preset="24h"))
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    (name,) = bot.heimdall.tokens["alice"]
    assert re.fullmatch(r"token_[a-z]+_[a-z]+_[a-z]+_[a-z]+", name)


@pytest.mark.parametrize(
    ("values", "block", "message"),
    [
        (create_values(name="ci-loader"), "name_block", "only letters, digits and underscores"),
        (create_values(name="x" * 65), "name_block", "at most 64 characters"),
        (create_values(name="ｃｉ"), "name_block", "only letters"),
        (create_values(preset="custom", custom=None), "custom_block", "Type a validity"),
        (create_values(preset="custom", custom="400d"), "custom_block", "longest validity allowed is 365 days"),
        (create_values(preset="custom", custom="forever"), "custom_block", "is not a validity"),
        (create_values(preset="9999h"), "validity_block", "not offered"),
        (create_values(preset=None), "validity_block", "Type a validity"),
    ],
)
def test_invalid_form_gets_inline_errors_and_changes_nothing(
    bot: Bot, values: dict[str, Any], block: str, message: str
) -> None:
    opened = _open_form(bot)
    r = bot.user.submit(view_id_of(opened), values)
    body = r.json()
    assert body["response_action"] == "errors"
    assert message in body["errors"][block]
    assert bot.heimdall.calls_to("POST") == []
    assert bot.slack.calls_to("chat.postEphemeral") == []


def test_custom_validity_is_sent_as_hours(bot: Bot) -> None:
    opened = _open_form(bot)
    bot.user.submit(view_id_of(opened), create_values(name="short", preset="custom", custom="36h"))
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    assert bot.heimdall.calls_to("POST")[0].body["duration"] == "36h"
    opened = bot.user.command("create") and bot.slack.wait_for("views.open", 2)[1]
    bot.user.submit(view_id_of(opened), create_values(name="twoweeks", preset="custom", custom="2w"))
    bot.slack.wait_for("views.update", 2, where=lambda c: "created" in text_of(c))
    assert bot.heimdall.calls_to("POST")[1].body["duration"] == "336h"


def test_a_custom_validity_typed_while_valid_for_is_untouched_wins(bot: Bot) -> None:
    opened = _open_form(bot)  # "Valid for" shows 30 days, as drawn
    r = bot.user.submit(view_id_of(opened), create_values(name="longer", preset="720h", custom="45d"))
    assert r.json()["response_action"] == "update"
    result = bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))[0]
    assert bot.heimdall.calls_to("POST")[0].body["duration"] == "1080h"  # 45 days, not 30
    token = bot.heimdall.tokens["alice"]["longer"]
    assert f"<!date^{int(token.expiration.timestamp())}^" in text_of(result)


def test_a_custom_validity_and_another_chosen_preset_are_asked_about(bot: Bot) -> None:
    opened = _open_form(bot)
    r = bot.user.submit(view_id_of(opened), create_values(name="which", preset="168h", custom="45d"))
    assert r.json() == {"response_action": "errors", "errors": {"custom_block": (
        "“Valid for” says 7 days, and this says 45d: choose “Custom…” above to use 45d, or clear this field to use "
        "7 days.")}}
    assert bot.heimdall.calls_to("POST") == []
    # when both say the same, there is nothing to ask
    bot.user.submit(view_id_of(opened), create_values(name="which", preset="168h", custom="7d"))
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    assert bot.heimdall.calls_to("POST")[0].body["duration"] == "168h"


def test_a_prefilled_custom_validity_does_not_override_a_preset_chosen_after(bot: Bot) -> None:
    opened = _open_form(bot, "create prefilled 45d")  # drawn with "Custom…" and 45d
    r = bot.user.submit(view_id_of(opened), create_values(name="prefilled", preset="168h", custom="45d"))
    assert r.json()["response_action"] == "errors" and "choose “Custom…” above" in r.json()["errors"]["custom_block"]
    r = bot.user.submit(view_id_of(opened), create_values(name="prefilled", preset="168h", custom=None))
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    assert bot.heimdall.calls_to("POST")[0].body["duration"] == "168h"


def test_double_submit_creates_one_key(bot: Bot) -> None:
    opened = _open_form(bot)
    view_id = view_id_of(opened)
    form = dict(bot.slack.views[view_id])
    stored_hash = form["hash"]
    values = create_values(name="once")
    responses: list[int] = []

    def submit() -> None:
        responses.append(bot.user.submit(view_id, values, view_hash=stored_hash, as_view=form).status_code)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert responses == [200, 200]
    bot.slack.wait_for("views.update", where=lambda c: "Key *once* created" in text_of(c))
    # a third click that was still in flight from the old form: told it was already done, still one key
    bot.user.submit(view_id, values, view_hash=stored_hash, as_view=form)
    bot.slack.wait_for("views.update", where=lambda c: "submitted twice" in text_of(c))
    assert list(bot.heimdall.tokens["alice"]) == ["once"]
    assert len(bot.heimdall.calls_to("POST", "/tokens")) == 1
    assert len(bot.slack.calls_to("chat.postEphemeral")) == 1
    assert [r["state"] for r in table_rows(bot, IdempotencyKey)] == ["done"]


def test_duplicate_name_reopens_form_with_the_reason(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "taken", hours=24)
    opened = _open_form(bot)
    bot.user.submit(view_id_of(opened), create_values(name="taken"))
    form = bot.slack.wait_for("views.update", where=lambda c: "already" in text_of(c))[0]
    assert form.params["view"]["callback_id"] == "create_key"
    assert "You already have a key named *taken*. Nothing was changed. Choose another name." in text_of(form)
    assert len(bot.heimdall.tokens["alice"]) == 1
    # the person fixes the name in the same modal and submits again
    bot.user.submit(view_id_of(opened), create_values(name="taken2"))
    bot.slack.wait_for("views.update", where=lambda c: "Key *taken2* created" in text_of(c))


@pytest.mark.parametrize(
    ("status", "after_effect", "expect"),
    [
        (400, False, "DataOS refused the request"),
        (401, False, "did not accept the bot's own API key"),
        (403, False, "not allowed to manage keys"),
        (404, False, "no key named"),
        (503, False, "cannot tell whether it was done"),
    ],
)
def test_dataos_errors_on_create_are_sentences(bot: Bot, status: int, after_effect: bool, expect: str) -> None:
    opened = _open_form(bot)
    bot.heimdall.fail_next(10 if status == 503 else 1, status, match="POST")
    bot.user.submit(view_id_of(opened), create_values(name="k1"))
    update = bot.slack.wait_for("views.update", where=lambda c: ":x:" in text_of(c))[0]
    text = text_of(update)
    assert expect in text
    assert "injected" not in text and "Traceback" not in text and '"status"' not in text
    assert bot.slack.calls_to("chat.postEphemeral") == []
    assert bot.heimdall.tokens["alice"] == {}
    outcome = [a for a in audit_actions(bot) if a[0] == "create"]
    assert outcome == [("create", f"error:{status}", "k1")]


def test_create_timeout_after_dataos_made_the_key_still_delivers_one(bot: Bot) -> None:
    opened = _open_form(bot)
    bot.heimdall.fail_next(1, None, delay=1.5, after_effect=True, match="POST")
    bot.user.submit(view_id_of(opened), create_values(name="slow"))
    bot.slack.wait_for("views.update", where=lambda c: "Key *slow* created" in text_of(c))
    assert list(bot.heimdall.tokens["alice"]) == ["slow"]
    eph = bot.slack.wait_for("chat.postEphemeral")[0]
    assert bot.heimdall.tokens["alice"]["slow"].apikey in text_of(eph)


def test_create_timeout_everywhere_says_it_may_have_happened(bot: Bot) -> None:
    opened = _open_form(bot)
    bot.heimdall.fail_next(10, None, delay=1.5, match="POST")
    bot.user.submit(view_id_of(opened), create_values(name="never"))
    update = bot.slack.wait_for("views.update", where=lambda c: ":x:" in text_of(c))[0]
    text = text_of(update)
    assert "DataOS stopped answering while I was creating your key" in text
    assert "so I cannot tell whether it was done" in text and "/apikey list" in text
    assert "Nothing was changed" not in text


def test_delivery_failure_falls_back_to_show_here(bot: Bot) -> None:
    bot.slack.fail("chat.postEphemeral", "user_not_in_channel")
    opened = _open_form(bot)
    bot.user.submit(view_id_of(opened), create_values(name="fallback"))
    result = bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))[0]
    assert "could not deliver it" in text_of(result)
    secret = bot.heimdall.tokens["alice"]["fallback"].apikey
    assert secret not in text_of(result)
    bot.user.click("show_key_here", "fallback", view_id=view_id_of(opened))
    shown = bot.slack.wait_for("views.update", where=lambda c: secret in text_of(c))[0]
    assert shown.params["view_id"] == view_id_of(opened)
    assert shown.params["view"]["title"]["text"] == "Your DataOS key"


def test_unmapped_user_sees_denial_in_the_open_form(bot: Bot) -> None:
    opened = _open_form(bot, user="U0DAVE")
    update = bot.slack.wait_for("views.update")[0]
    assert update.params["view_id"] == view_id_of(opened)
    assert "/apikey link" in text_of(update)
    r = bot.user.submit(view_id_of(opened), create_values(name="x"), user="U0DAVE")
    assert r.status_code in (200, 404)
    assert bot.heimdall.calls_to("POST") == []


def test_create_button_from_help_opens_the_form(bot: Bot) -> None:
    bot.user.click("open_create", "create")
    opened = bot.slack.wait_for("views.open")[0]
    assert opened.params["view"]["callback_id"] == "create_key"


def test_list_button_from_help(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "from_button", hours=72)
    bot.user.click("list_keys", "list")
    assert "from_button" in text_of(bot.slack.wait_for("response_url")[0])


def test_slack_rate_limit_on_views_open_is_waited_out(bot: Bot) -> None:
    bot.slack.fail("views.open", "ratelimited", status=429, retry_after=1)
    bot.user.command("create")
    opened = bot.slack.wait_for("views.open", where=lambda c: c.result.get("ok") is True)[0]
    assert opened.params["view"]["callback_id"] == "create_key"
    assert [c.result.get("ok") for c in bot.slack.calls_to("views.open")] == [False, True]


def test_slack_error_opening_the_form_is_a_sentence(bot: Bot) -> None:
    bot.slack.fail("views.open", "internal_error")
    bot.user.command("create")
    text = text_of(bot.slack.wait_for("response_url")[0])
    assert "Slack answered `internal_error`" in text and "Nothing was changed" in text
