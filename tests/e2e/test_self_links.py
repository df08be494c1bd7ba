"""Issue #20 A1: a self-link is a credential derived from the key that proved it, and dies with it.

The scenario of the issue: Bob pastes Alice's key in #general, Mallory links with it. Whatever ends that
key (a revoke through the bot, DataOS no longer having it, its expiry, the leak watch) ends Mallory's link,
Mallory is told in a sentence, and Mallory can no longer list, reveal or create anything as `alice`. The
person the link took the user from can end it with "This was not me". Admin links are not affected."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack.blocks.common import exact_value
from bot.store import Proof
from bot.store.schema import AuditEntry, IdentityLink
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, table_rows, text_of, view_id_of

MALLORY = "U0MAL"
ADMIN = "U0ADMIN"
GENERAL = "C0GEN"
_ids = iter(range(1, 10**6))


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"leak_watch": True, "admin_slack_user_ids": ADMIN}


@pytest.fixture(autouse=True)
def mallory(bot: Bot) -> None:
    bot.slack.add_user(MALLORY, "mallory@elsewhere.org", name="Mallory")  # matches no DataOS user


def link_with(bot: Bot, key: str, user: str = MALLORY) -> str:
    """Run `/apikey link` as `user`, paste `key`; the text of the modal's answer."""
    opened = bot.user.command_modal("link", user=user)
    before = len(bot.slack.calls_to("views.update"))
    bot.user.submit(view_id_of(opened), {"link_block": {"pasted_key": {"type": "plain_text_input", "value": key}}},
                    user=user)
    text = text_of(bot.slack.wait_for("views.update", before + 1)[before])
    assert bot.server.call(bot.runtime.drain(10))  # the Home tab and the notices that follow, too
    return text


def answer(bot: Bot, text: str, user: str = MALLORY) -> str:
    before = len(bot.slack.responses())
    bot.user.command(text, user=user)
    return text_of(bot.slack.wait_for("response_url", before + 1)[before])


def dms_to(bot: Bot, user: str) -> list[str]:
    return [text_of(c) for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == user]


def link_ends(bot: Bot) -> list[tuple[str, str]]:
    return [(r["outcome"], r["detail"]) for r in table_rows(bot, AuditEntry) if r["action"] == "link end"]


def reveal_text(bot: Bot, name: str, user: str = MALLORY) -> str:
    before = len(bot.slack.calls_to("views.update"))
    bot.user.click("reveal_key", name, user=user)
    return text_of(bot.slack.wait_for("views.update", before + 1)[before])


def test_revoking_the_proving_key_through_the_bot_ends_the_link_at_once(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    other = bot.heimdall.add_token("alice", "other", hours=24 * 30)
    assert "now linked to DataOS user `alice`" in link_with(bot, pasted.apikey)
    assert "other" in answer(bot, "list")
    row = table_rows(bot, IdentityLink)[0]
    assert row["proof_key_name"] == "pasted" and len(row["proof_fingerprint"]) == 64
    assert pasted.apikey not in json.dumps(row, default=str)  # the key itself is not kept
    # Alice revokes the pasted key (the revoke dialog): Mallory's link ends with it, immediately.
    bot.user.command("revoke pasted")
    confirm = bot.slack.wait_for("views.update", 2)[1]
    bot.user.submit(confirm.params["view_id"], {})
    bot.slack.wait_for("views.update", where=lambda c: "revoked" in text_of(c))
    assert bot.server.call(bot.runtime.drain(10))
    assert table_rows(bot, IdentityLink) == []
    told = [t for t in dms_to(bot, MALLORY) if "has ended" in t]
    assert len(told) == 1 and "*pasted*" in told[0] and "was revoked" in told[0] and "/apikey link" in told[0]
    homes = [c for c in bot.slack.delivered("views.publish") if c.params.get("user_id") == MALLORY]
    assert "other" in text_of(homes[0]) and "other" not in text_of(homes[-1])  # the Home tab is redrawn
    # Mallory is nobody again: no list, no reveal of Alice's other key, no create for `alice`.
    denied = answer(bot, "list")
    assert "No DataOS user has the e-mail address" in denied and "other" not in denied
    assert other.apikey not in reveal_text(bot, "other")
    opened = bot.user.command_modal("create", user=MALLORY)
    bot.user.submit(view_id_of(opened), create_values(name="mallorys"), user=MALLORY)
    assert bot.server.call(bot.runtime.drain(10))
    assert set(bot.heimdall.tokens["alice"]) == {"other"}
    assert [o for o, _ in link_ends(bot)] == ["ended: key revoked"]


def test_a_key_gone_from_dataos_ends_the_link_at_the_next_check(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    bot.heimdall.add_token("alice", "other", hours=24 * 30)
    link_with(bot, pasted.apikey)
    bot.heimdall.remove_token("alice", "pasted")  # revoked in the DataOS UI, not through the bot
    bot.clock.advance(minutes=6)
    lists_before = len(bot.heimdall.calls_to("GET", "/users/alice/tokens"))
    text = answer(bot, "list")
    assert "has ended" in text and "no longer exists in DataOS" in text and "Nothing else was done" in text
    assert "other" not in text
    # Nothing else happened: the check asked for the proving key only, and listed nothing.
    checks = [c.path for c in bot.heimdall.calls_to("GET", "/users/alice/tokens")][lists_before:]
    assert checks == ["/heimdall/api/v1/users/alice/tokens/pasted"]
    assert table_rows(bot, IdentityLink) == []
    assert [o for o, _ in link_ends(bot)] == ["ended: key gone"]
    assert "No DataOS user has the e-mail address" in answer(bot, "list")


def test_a_key_made_again_under_the_same_name_does_not_keep_the_link(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    link_with(bot, pasted.apikey)
    bot.heimdall.remove_token("alice", "pasted")
    bot.heimdall.add_token("alice", "pasted", hours=24 * 60)  # another key, the same name
    bot.clock.advance(minutes=6)
    assert "has ended" in answer(bot, "whoami")
    assert [o for o, _ in link_ends(bot)] == ["ended: key changed"]


def test_the_check_runs_every_few_minutes_while_the_link_is_used(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    link_with(bot, pasted.apikey)
    checks_before = len(bot.heimdall.calls_to("GET", "/tokens/pasted"))
    answer(bot, "whoami")
    bot.clock.advance(minutes=2)
    answer(bot, "whoami")
    assert len(bot.heimdall.calls_to("GET", "/tokens/pasted")) == checks_before  # checked at link time
    bot.clock.advance(minutes=4)
    assert "`alice`" in answer(bot, "whoami")
    assert len(bot.heimdall.calls_to("GET", "/tokens/pasted")) == checks_before + 1


def test_an_expired_proving_key_ends_the_link_without_asking_dataos(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=3)
    link_with(bot, pasted.apikey)
    bot.clock.advance(hours=4)
    calls_before = len(bot.heimdall.calls)
    text = answer(bot, "list")
    assert "has ended" in text and "has expired" in text
    assert [c.path for c in bot.heimdall.calls[calls_before:] if "/users/alice" in c.path] == []
    assert [o for o, _ in link_ends(bot)] == ["ended: key expired"]


def test_the_sweep_ends_a_link_whose_proving_key_expired_and_tells_the_person(bot: Bot) -> None:
    from bot.reminders.sweep import Sweeper

    pasted = bot.heimdall.add_token("alice", "pasted", hours=3)
    link_with(bot, pasted.apikey)
    bot.clock.advance(hours=4)
    bot.server.call(Sweeper(bot.runtime).run("discovery"))
    assert table_rows(bot, IdentityLink) == []
    assert any("has ended" in t and "has expired" in t for t in dms_to(bot, MALLORY))


def test_the_sweep_ends_a_link_whose_proving_key_was_revoked_outside_the_bot(bot: Bot) -> None:
    from bot.reminders.sweep import Sweeper

    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    bot.heimdall.add_token("alice", "soon", hours=20)
    link_with(bot, pasted.apikey)
    bot.heimdall.remove_token("alice", "pasted")  # in the DataOS UI
    bot.clock.advance(minutes=6)
    bot.server.call(Sweeper(bot.runtime).run("discovery"))
    assert table_rows(bot, IdentityLink) == []
    assert any("has ended" in t and "no longer exists" in t for t in dms_to(bot, MALLORY))
    assert not any("soon" in t for t in dms_to(bot, MALLORY))  # no reminder about Alice's keys


def test_the_leak_watch_ends_the_links_a_pasted_key_made(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    link_with(bot, pasted.apikey)
    event = {"type": "message", "channel": GENERAL, "user": "U0BOB", "text": f"try {pasted.apikey}",
             "ts": "1700000001.000100", "channel_type": "channel"}
    assert bot.user.event(event, event_id="EvLEAK1").status_code == 200
    assert bot.server.call(bot.runtime.drain(10))
    assert table_rows(bot, IdentityLink) == []
    assert any("has ended" in t and "posted in a channel" in t for t in dms_to(bot, MALLORY))
    assert [o for o, _ in link_ends(bot)] == ["ended: key leaked"]
    assert "No DataOS user has the e-mail address" in answer(bot, "list")


def test_a_key_the_leak_watch_has_seen_cannot_make_a_link(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    event = {"type": "message", "channel": GENERAL, "user": "U0BOB", "text": f"try {pasted.apikey}",
             "ts": "1700000002.000100", "channel_type": "channel"}
    bot.user.event(event, event_id="EvLEAK2")
    assert bot.server.call(bot.runtime.drain(10))
    text = link_with(bot, pasted.apikey)
    assert "posted in a channel" in text and "Nothing was linked" in text
    assert table_rows(bot, IdentityLink) == []
    assert ("link", "refused:leaked-key") in [(r["action"], r["outcome"]) for r in table_rows(bot, AuditEntry)]


def test_the_leak_dm_revoke_button_ends_the_link(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    link_with(bot, pasted.apikey)
    value = json.dumps({"u": "alice", "k": "pasted", "e": int(pasted.expiration.timestamp())})
    bot.user.click("leak_revoke", value, user="U0ALICE", channel="D0ALICE")
    assert bot.server.call(bot.runtime.drain(10))
    assert "pasted" not in bot.heimdall.tokens["alice"]
    assert table_rows(bot, IdentityLink) == []


def test_an_admin_revoke_and_offboarding_end_links_too(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    link_with(bot, pasted.apikey)
    bot.user.click("admin_revoke", exact_value("pasted", pasted.expiration, u="alice"), user=ADMIN)
    assert bot.server.call(bot.runtime.drain(10))
    assert table_rows(bot, IdentityLink) == []


def test_admin_links_are_not_affected(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    some_key = bot.heimdall.add_token("alice", "some_key", hours=24 * 30)
    bot.user.command(f"admin link <@{MALLORY}> alice", user=ADMIN)
    bot.slack.wait_for("response_url")
    bot.user.click("admin_revoke", exact_value("some_key", some_key.expiration, u="alice"), user=ADMIN)
    assert bot.server.call(bot.runtime.drain(10))
    assert "some_key" not in bot.heimdall.tokens["alice"]
    bot.clock.advance(days=40)
    from bot.reminders.sweep import Sweeper

    bot.server.call(Sweeper(bot.runtime).run("discovery"))
    assert "`alice`" in answer(bot, "whoami")
    assert [(r["slack_user_id"], r["method"]) for r in table_rows(bot, IdentityLink)] == [(MALLORY, "admin")]
    assert link_ends(bot) == []


def test_a_self_link_from_before_the_proving_key_was_kept_ends_on_first_use(bot: Bot) -> None:
    bot.server.call(bot.runtime.links.set_link(MALLORY, "alice", method="self", linked_by=MALLORY,
                                               now=bot.clock.now()))
    text = answer(bot, "list")
    assert "has ended" in text and "before the bot kept track" in text
    assert table_rows(bot, IdentityLink) == []


def test_the_person_whose_link_ended_can_link_again_with_a_live_key(bot: Bot) -> None:
    first = bot.heimdall.add_token("carol", "first", hours=3)
    second = bot.heimdall.add_token("carol", "second", hours=24 * 30)
    link_with(bot, first.apikey, user="U0DAVE")
    bot.clock.advance(hours=4)
    assert "has ended" in answer(bot, "whoami", user="U0DAVE")
    assert "now linked to DataOS user `carol`" in link_with(bot, second.apikey, user="U0DAVE")
    assert "`carol`" in answer(bot, "whoami", user="U0DAVE")
    assert [r["proof_key_name"] for r in table_rows(bot, IdentityLink)] == ["second"]


# ---- "This was not me" ----------------------------------------------------------------------------


def not_me_button(bot: Bot) -> tuple[dict[str, Any], dict[str, Any]]:
    dm = next(c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == "U0ALICE"
              and "linked themselves" in text_of(c))
    button = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert button["action_id"] == "link_not_me" and "confirm" in button
    # where it was pressed: that very message in Alice's DM (what the bot then updates in place)
    return {"channel": str(dm.result["channel"]), "message_ts": str(dm.result["ts"]), "ephemeral": False}, button


def test_this_was_not_me_ends_the_link_and_revokes_the_key_that_made_it(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    bot.heimdall.add_token("alice", "other", hours=24 * 30)
    link_with(bot, pasted.apikey)
    assert bot.server.call(bot.runtime.drain(10))
    where, button = not_me_button(bot)
    assert pasted.apikey not in button["value"]
    # Mallory cannot press it (nor anyone but Alice), even with the very value.
    bot.user.click("link_not_me", button["value"], user=MALLORY, **where)
    bot.user.click("link_not_me", button["value"], user="U0BOB", **where)
    assert bot.server.call(bot.runtime.drain(10))
    assert len(table_rows(bot, IdentityLink)) == 1 and "pasted" in bot.heimdall.tokens["alice"]
    # Each is answered where they pressed; in Alice's DM, which they are not in, Slack itself refuses that
    # (`user_not_in_channel`): a forged press learns nothing either way.
    refusals = [c for c in bot.slack.calls_to("chat.postEphemeral") if "Nothing was changed" in text_of(c)]
    assert {c.params["user"] for c in refusals} == {MALLORY, "U0BOB"}
    assert {c.result.get("error") for c in refusals} == {"user_not_in_channel"}
    bot.user.click("link_not_me", button["value"], user="U0ALICE", **where)
    assert bot.server.call(bot.runtime.drain(10))
    assert table_rows(bot, IdentityLink) == []
    assert set(bot.heimdall.tokens["alice"]) == {"other"}
    done = [c for c in bot.slack.delivered("chat.update") if c.params.get("channel") == where["channel"]][-1]
    assert "no longer acts as `alice`" in text_of(done) and "was revoked" in text_of(done)
    assert any("has ended" in t and "not theirs to take" in t for t in dms_to(bot, MALLORY))
    outcomes = [(r["action"], r["outcome"]) for r in table_rows(bot, AuditEntry)]
    assert ("link end", "ended: not me") in outcomes and ("revoke", "ok") in outcomes
    assert outcomes.count(("link not me", "refused:not displaced")) == 2
    # Pressed again (or a stale copy): the link named is gone; nothing else happens.
    bot.user.click("link_not_me", button["value"], user="U0ALICE", **where)
    assert bot.server.call(bot.runtime.drain(10))
    again = [c for c in bot.slack.delivered("chat.update") if c.params.get("channel") == where["channel"]][-1]
    assert "already ended" in text_of(again)


def test_this_was_not_me_names_one_link_only(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    again = bot.heimdall.add_token("alice", "again", hours=24 * 30)
    link_with(bot, pasted.apikey)
    assert bot.server.call(bot.runtime.drain(10))
    where, button = not_me_button(bot)
    link_with(bot, again.apikey)  # Mallory links again, with another key: a different link
    bot.user.click("link_not_me", button["value"], user="U0ALICE", **where)
    assert bot.server.call(bot.runtime.drain(10))
    assert [r["proof_key_name"] for r in table_rows(bot, IdentityLink)] == ["again"]
    assert "again" in bot.heimdall.tokens["alice"] and "pasted" in bot.heimdall.tokens["alice"]
    bot.user.click("link_not_me", "{broken", user="U0ALICE", **where)
    assert bot.server.call(bot.runtime.drain(10))
    assert "damaged" in text_of(bot.slack.delivered("chat.update")[-1])


def test_proof_is_stored_as_a_keyed_hash_the_leak_watch_can_match(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    link_with(bot, pasted.apikey)
    link = bot.server.call(bot.runtime.links.get_link(MALLORY))
    fingerprint = bot.server.call(bot.runtime.self_links.fingerprint(pasted.apikey))
    assert link is not None and link.proof == Proof(fingerprint or "", "pasted", pasted.expiration)


def test_a_link_found_dead_while_an_admin_looks_is_told_to_its_owner(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    pasted = bot.heimdall.add_token("alice", "pasted", hours=3)
    link_with(bot, pasted.apikey)
    bot.clock.advance(hours=4)
    assert "has ended" in answer(bot, f"admin keys <@{MALLORY}>", user=ADMIN)
    assert any("has ended" in t and "has expired" in t for t in dms_to(bot, MALLORY))
