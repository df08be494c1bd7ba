"""`/apikey` help, list, whoami, revoke and link, end to end over real HTTP."""

from __future__ import annotations

import json

import pytest

from bot.store.schema import AuditEntry, IdentityLink
from tests.e2e.conftest import Bot
from tests.e2e.harness import audit_actions, revoke_value, table_rows, text_of, view_id_of


def _blocks_text(body: dict[str, object]) -> str:
    return json.dumps(body, ensure_ascii=False)


def test_help_and_bare_command(bot: Bot) -> None:
    for text in ("", "help", "  HELP "):
        body = bot.user.command(text).json()
        text_all = _blocks_text(body)
        assert "/apikey create" in text_all and "/apikey list" in text_all
        actions = [e["action_id"] for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert actions == ["list_keys", "open_create"]
    assert [c for c in bot.heimdall.calls if "/tokens" in c.path] == []  # help needs no key from DataOS


def test_unknown_subcommand_suggests_closest(bot: Bot) -> None:
    body = bot.user.command("lst").json()
    assert "I don't know `lst`" in _blocks_text(body)
    assert "Did you mean `/apikey list`?" in _blocks_text(body)
    body = bot.user.command("xyzzy").json()
    assert "Did you mean" not in _blocks_text(body) and "/apikey create" in _blocks_text(body)


def test_list_shows_keys_masked_with_dates_and_actions(bot: Bot) -> None:
    k1 = bot.heimdall.add_token("alice", "ci_loader", hours=24 * 30)
    k2 = bot.heimdall.add_token("alice", "nightly", hours=48)
    bot.heimdall.add_token("bob", "bobs_key", hours=48)
    assert bot.user.command("list").status_code == 200
    reply = bot.slack.wait_for("response_url")[0].params
    text = _blocks_text(reply)
    assert reply["response_type"] == "ephemeral"
    assert "ci_loader" in text and "nightly" in text and "bobs_key" not in text
    assert k1.apikey not in text and k2.apikey not in text  # never the value
    assert f"{k1.apikey[:4]}…{k1.apikey[-4:]}" in text
    assert f"<!date^{int(k2.expiration.timestamp())}^" in text
    assert "in 2 days" in text and "expiring soon" in text and "active" in text
    # soonest expiry first, each with Reveal and a confirmed Revoke
    assert text.index("nightly") < text.index("ci_loader")
    buttons = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    revoke = [b for b in buttons if b["action_id"] == "revoke_key"]
    assert {b["value"] for b in revoke} == {revoke_value(k1), revoke_value(k2)}  # each names its exact key
    assert all("confirm" in b for b in revoke)
    assert len(reply["blocks"]) <= 50


def test_list_expired_key_is_marked(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "old", hours=1)
    bot.clock.advance(hours=3)
    bot.user.command("list")
    text = text_of(bot.slack.wait_for("response_url")[0])
    assert "expired" in text and "Expired" in text and "ago" in text


def test_list_without_keys_offers_create(bot: Bot) -> None:
    bot.user.command("list", user="U0BOB")
    reply = bot.slack.wait_for("response_url")[0].params
    assert "You have no DataOS API keys" in _blocks_text(reply)
    assert "open_create" in _blocks_text(reply)


def test_list_unmapped_user_is_told_how_to_link(bot: Bot) -> None:
    bot.user.command("list", user="U0DAVE")
    text = text_of(bot.slack.wait_for("response_url")[0])
    assert "No DataOS user has the e-mail address dave@elsewhere.org" in text
    assert "/apikey link" in text
    assert bot.heimdall.calls_to("GET", "/tokens") == []


def test_list_pages_many_keys_within_block_limit(bot: Bot) -> None:
    for i in range(45):
        bot.heimdall.add_token("alice", f"key_{i:02d}", hours=24 + i)
    bot.user.command("list")
    reply = bot.slack.wait_for("response_url")[0].params
    assert len(reply["blocks"]) <= 50
    assert "page 1 of 3" in _blocks_text(reply)
    assert "key_00" in _blocks_text(reply) and "key_20" not in _blocks_text(reply)
    nxt = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]
           if e["action_id"].startswith("keys_page")]
    assert [e["value"] for e in nxt] == ["1"]
    bot.user.click(nxt[0]["action_id"], "1")
    page2 = bot.slack.wait_for("response_url", 2)[1].params
    assert page2["replace_original"] is True
    assert "page 2 of 3" in _blocks_text(page2) and "key_20" in _blocks_text(page2)


@pytest.mark.parametrize(
    ("status", "times", "expected"),
    [
        (503, 10, ["DataOS is not answering right now, so I could not finish listing your keys", "try again"]),
        (401, 1, ["did not accept the bot's own API key", "platform admin"]),
        (403, 1, ["not allowed to manage keys", "so I could not finish listing your keys", "platform admin"]),
    ],
)
def test_list_dataos_errors_are_sentences(bot: Bot, status: int, times: int, expected: list[str]) -> None:
    bot.user.command("whoami")  # warm the identity caches
    bot.slack.wait_for("response_url")
    bot.heimdall.fail_next(times, status, match="/tokens")
    bot.user.command("list")
    text = text_of(bot.slack.wait_for("response_url", 2)[1])
    assert all(phrase in text for phrase in expected), text
    assert "Traceback" not in text and "injected" not in text
    assert "Nothing was changed" not in text  # a list changes nothing: nobody needs telling


def test_whoami_by_email(bot: Bot) -> None:
    bot.user.command("whoami")
    text = text_of(bot.slack.wait_for("response_url")[0])
    assert "`alice`" in text and "Alice@Example.com" in text and "matches" in text


def test_reveal_opens_modal_then_shows_key(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "ci_loader", hours=72)
    bot.user.click("reveal_key", "ci_loader")
    opened = bot.slack.wait_for("views.open")[0]
    assert key.apikey not in text_of(opened)
    update = bot.slack.wait_for("views.update")[0]
    assert update.params["view_id"] == view_id_of(opened)
    assert key.apikey in text_of(update)
    assert opened.at < bot.heimdall.calls_to("GET", "/tokens/ci_loader")[0].at  # the modal opened first
    assert ("reveal", "ok", "ci_loader") in audit_actions(bot)


def test_reveal_someone_elses_key_name_finds_nothing(bot: Bot) -> None:
    bob_key = bot.heimdall.add_token("bob", "bobs_key", hours=72)
    bot.user.click("reveal_key", "bobs_key")  # alice tampers with the button value
    update = bot.slack.wait_for("views.update")[0]
    assert bob_key.apikey not in text_of(update)
    assert "no key named *bobs_key* for you" in text_of(update)
    assert bot.heimdall.calls_to("GET", "/users/bob") == []


def test_revoke_button_revokes_and_refreshes_list(bot: Bot) -> None:
    gone_soon = bot.heimdall.add_token("alice", "gone_soon", hours=72)
    bot.heimdall.add_token("alice", "stays", hours=72)
    bot.user.click("revoke_key", revoke_value(gone_soon))
    reply = bot.slack.wait_for("response_url")[0].params
    assert reply["replace_original"] is True
    assert "Key *gone_soon* revoked" in _blocks_text(reply)
    assert "stays" in _blocks_text(reply)
    assert set(bot.heimdall.tokens["alice"]) == {"stays"}
    assert ("revoke", "ok", "gone_soon") in audit_actions(bot)


def test_revoke_button_with_other_users_key_changes_nothing(bot: Bot) -> None:
    bobs_key = bot.heimdall.add_token("bob", "bobs_key", hours=72)
    bot.user.click("revoke_key", revoke_value(bobs_key))  # Bob's exact key, pressed by Alice
    reply = bot.slack.wait_for("response_url")[0].params
    assert "no key named *bobs_key* for you" in _blocks_text(reply)
    assert "bobs_key" in bot.heimdall.tokens["bob"]


def test_revoke_command_confirm_then_delete(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "ci_loader", hours=72)
    bot.user.command("revoke ci_loader")
    opened = bot.slack.wait_for("views.open")[0]
    confirm = bot.slack.wait_for("views.update")[0]
    view = confirm.params["view"]
    assert view["callback_id"] == "revoke_key" and view["submit"]["text"] == "Revoke"
    assert "ci_loader" in bot.heimdall.tokens["alice"]  # nothing happens before confirming
    r = bot.user.submit(confirm.params["view_id"], {})
    assert r.json()["response_action"] == "update" and "Revoking" in json.dumps(r.json())
    done = bot.slack.wait_for("views.update", 2)[1]
    assert "Key *ci_loader* revoked" in text_of(done)
    assert bot.heimdall.tokens["alice"] == {}
    assert opened.params["view"]["title"]["text"] == "Revoke a key"


def test_revoke_command_unknown_name(bot: Bot) -> None:
    bot.user.command("revoke nope")
    update = bot.slack.wait_for("views.update")[0]
    assert "no key named *nope* for you" in text_of(update)
    assert update.params["view"].get("submit") is None


def test_revoke_command_without_name_offers_a_picker(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "a_key", hours=72)
    bot.heimdall.add_token("alice", "b_key", hours=72)
    bot.user.command("revoke")
    picker = bot.slack.wait_for("views.update")[0]
    view_id = picker.params["view_id"]
    assert "a_key" in text_of(picker) and "b_key" in text_of(picker)
    r = bot.user.submit(view_id, {"revoke_pick_block": {"revoke_pick": {"type": "static_select",
                                                                        "selected_option": None}}})
    assert r.json() == {"response_action": "errors", "errors": {"revoke_pick_block": "Choose the key to revoke."}}
    chosen = next(o for o in next(b for b in picker.params["view"]["blocks"] if b["type"] == "input")
                  ["element"]["options"] if o["text"]["text"] == "b_key")
    values = {"revoke_pick_block": {"revoke_pick": {"type": "static_select", "selected_option": chosen}}}
    bot.user.submit(view_id, values)
    bot.slack.wait_for("views.update", where=lambda c: "revoked" in text_of(c))
    assert set(bot.heimdall.tokens["alice"]) == {"a_key"}


def test_revoke_with_tampered_metadata_cannot_reach_another_user(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "mine", hours=72)
    bobs_key = bot.heimdall.add_token("bob", "bobs_key", hours=72)
    bot.user.command("revoke mine")
    confirm = bot.slack.wait_for("views.update")[0]
    forged = {"name": "bobs_key", "exp": str(int(bobs_key.expiration.timestamp()))}
    bot.user.submit(confirm.params["view_id"], {}, metadata=json.dumps(forged))
    done = bot.slack.wait_for("views.update", 2)[1]
    assert "no key named *bobs_key* for you" in text_of(done)
    assert "bobs_key" in bot.heimdall.tokens["bob"] and "mine" in bot.heimdall.tokens["alice"]


def test_link_with_own_key(bot: Bot) -> None:
    carol_key = bot.heimdall.add_token("carol", "carols", hours=72).apikey
    bot.user.command("link", user="U0DAVE")
    opened = bot.slack.wait_for("views.open")[0]
    assert opened.params["view"]["callback_id"] == "link_identity"
    values = {"link_block": {"pasted_key": {"type": "plain_text_input", "value": f"  {carol_key} "}}}
    r = bot.user.submit(view_id_of(opened), values, user="U0DAVE")
    assert r.json()["response_action"] == "update"
    done = bot.slack.wait_for("views.update")[0]
    assert "linked to DataOS user `carol`" in text_of(done)
    assert carol_key not in text_of(done)
    bot.user.command("whoami", user="U0DAVE")
    assert "you linked yourself" in text_of(bot.slack.wait_for("response_url")[0])
    assert ("link", "ok", "carols") in audit_actions(bot)  # the key that proved it, by name
    rows = table_rows(bot, IdentityLink)
    assert [(r["slack_user_id"], r["dataos_user_id"], r["method"]) for r in rows] == [("U0DAVE", "carol", "self")]


def test_link_refuses_invalid_application_and_empty_keys(bot: Bot) -> None:
    bot.user.command("link", user="U0DAVE")
    opened = bot.slack.wait_for("views.open")[0]
    empty = {"link_block": {"pasted_key": {"type": "plain_text_input", "value": None}}}
    r = bot.user.submit(view_id_of(opened), empty, user="U0DAVE")
    assert r.json()["response_action"] == "errors" and "link_block" in r.json()["errors"]
    bogus = {"link_block": {"pasted_key": {"type": "plain_text_input", "value": "bm90IGEga2V5IGF0IGFsbA=="}}}
    bot.user.submit(view_id_of(opened), bogus, user="U0DAVE")
    refused = bot.slack.wait_for("views.update")[0]
    assert "did not accept that key" in text_of(refused) and "Nothing was linked" in text_of(refused)
    operator = {"link_block": {"pasted_key": {"type": "plain_text_input",
                                              "value": bot.heimdall.operator_key}}}  # type: ignore[attr-defined]
    bot.user.command("link", user="U0DAVE")
    bot.user.submit(view_id_of(bot.slack.wait_for("views.open", 2)[1]), operator, user="U0DAVE")
    app = bot.slack.wait_for("views.update", 2)[1]
    assert "the bot's own DataOS user" in text_of(app) and "Nothing was linked" in text_of(app)
    assert table_rows(bot, IdentityLink) == []


def test_expired_trigger_is_explained(bot: Bot) -> None:
    bot.user.command("create", trigger_id="expired-trigger")
    text = text_of(bot.slack.wait_for("response_url")[0])
    assert "closed the window before it could open" in text and "Nothing was changed" in text


def test_audit_has_no_secret_and_right_fields(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "ci_loader", hours=72)
    bot.user.click("reveal_key", "ci_loader")
    bot.slack.wait_for("views.update")
    rows = table_rows(bot, AuditEntry)
    assert len(rows) == 1
    e = rows[0]
    assert (e["actor_slack_id"], e["dataos_user_id"], e["action"], e["key_name"], e["outcome"]) == (
        "U0ALICE", "alice", "reveal", "ci_loader", "ok")
    assert e["key_expiration"] == key.expiration.replace(tzinfo=None)
    assert e["at"] == bot.clock.now().replace(tzinfo=None)
    assert key.apikey not in repr(rows)
