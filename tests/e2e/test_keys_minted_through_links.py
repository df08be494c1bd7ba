"""A key minted through a self-link dies with the link, end to end over HTTP against the fakes.

The issue's scenario: Mallory links with a key of Alice's that nobody has seen leak yet, creates
`mallory_spare` for `alice`, and tries to make it prove a new link. Keys created, renewed or revealed
through a self-link are recorded with the key that proved it; when that key is revoked, found gone, seen
leaked or disowned, they are revoked (exactly), Alice is told which, and none of them proves a link. A
link that ends because its key expired keeps them (and they still prove nothing)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.reminders.sweep import Sweeper
from bot.store.schema import AuditEntry, IdentityLink, MintedKey
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, table_rows, text_of, view_id_of

MALLORY = "U0MAL"
ADMIN = "U0ADMIN"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"leak_watch": True, "admin_slack_user_ids": ADMIN}


@pytest.fixture(autouse=True)
def mallory(bot: Bot) -> None:
    bot.slack.add_user(MALLORY, "mallory@elsewhere.org", name="Mallory")  # matches no DataOS user
    bot.slack.add_user(ADMIN, "admin@example.com")


def link_with(bot: Bot, key: str, user: str = MALLORY) -> str:
    opened = bot.user.command_modal("link", user=user)
    before = len(bot.slack.calls_to("views.update"))
    bot.user.submit(view_id_of(opened), {"link_block": {"pasted_key": {"type": "plain_text_input", "value": key}}},
                    user=user)
    text = text_of(bot.slack.wait_for("views.update", before + 1)[before])
    assert bot.server.call(bot.runtime.drain(10))
    return text


def create_as(bot: Bot, name: str, user: str = MALLORY) -> Any:
    opened = bot.user.command_modal("create", user=user)
    bot.user.submit(view_id_of(opened), create_values(name=name), user=user)
    bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened)
                       and name in text_of(c) and "created" in text_of(c))
    assert bot.server.call(bot.runtime.drain(10))
    return bot.heimdall.tokens["alice"][name]


def told_alice(bot: Bot) -> list[str]:
    assert bot.server.call(bot.runtime.drain(10))
    return [text_of(c) for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == "U0ALICE"
            and "die with it" in text_of(c)]


def test_a_key_made_through_a_stolen_link_dies_when_the_proving_key_is_revoked(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    assert "now linked to DataOS user `alice`" in link_with(bot, pasted.apikey)
    spare = create_as(bot, "mallory_spare")
    rows = table_rows(bot, MintedKey)
    assert [(r["key_name"], r["how"], r["state"], r["proof_key_name"]) for r in rows] == [
        ("mallory_spare", "created", "live", "pasted")]
    assert spare.apikey not in json.dumps(rows, default=str)  # names and dates only
    # the minted key cannot make Mallory Alice again, however the first link ends
    refused = link_with(bot, spare.apikey)
    assert "made (or shown) through a self-link" in refused and "Nothing was linked" in refused
    assert [r["proof_key_name"] for r in table_rows(bot, IdentityLink)] == ["pasted"]
    # Alice revokes the key that leaked: the link ends, and so does what it made
    bot.user.command("revoke pasted")
    confirm = bot.slack.wait_for("views.update", where=lambda c: "revoke_key" in text_of(c))[-1]
    bot.user.submit(confirm.params["view_id"], {})
    bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == confirm.params["view_id"]
                       and "revoked" in text_of(c))
    assert bot.server.call(bot.runtime.drain(10))
    assert table_rows(bot, IdentityLink) == []
    assert "mallory_spare" not in bot.heimdall.tokens["alice"]
    [told] = told_alice(bot)
    assert "mallory_spare" in told and f"<@{MALLORY}>" in told and "*pasted*" in told and "revoked" in told
    assert spare.apikey not in told
    assert [r["state"] for r in table_rows(bot, MintedKey)] == ["revoked"]
    revokes = [(r["key_name"], r["outcome"]) for r in table_rows(bot, AuditEntry) if r["action"] == "revoke"]
    assert ("mallory_spare", "ok") in revokes


def test_a_key_revealed_through_a_link_dies_when_the_proving_key_is_seen_leaked(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    bot.heimdall.add_token("alice", "other", hours=24 * 30)
    link_with(bot, pasted.apikey)
    bot.user.click("reveal_key", "other", user=MALLORY)
    bot.slack.wait_for("views.update", where=lambda c: bot.heimdall.tokens["alice"]["other"].apikey in text_of(c))
    event = {"type": "message", "channel": "C0GEN", "user": "U0BOB", "text": f"try {pasted.apikey}",
             "ts": "1700000001.000100", "channel_type": "channel"}
    assert bot.user.event(event, event_id="EvLEAKMINT").status_code == 200
    assert bot.server.call(bot.runtime.drain(10))
    assert "other" not in bot.heimdall.tokens["alice"]  # Mallory saw it: it goes with the link
    assert "pasted" in bot.heimdall.tokens["alice"]  # the leaked key itself is Alice's to revoke (she is told)
    [told] = told_alice(bot)
    assert "*other*" in told and "revealed through the link" in told and "posted in a channel" in told


def test_disowning_the_link_revokes_what_it_made(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    link_with(bot, pasted.apikey)
    create_as(bot, "mallory_spare")
    dm = next(c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == "U0ALICE"
              and "linked themselves" in text_of(c))
    button = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"])
    bot.user.click("link_not_me", button["value"], user="U0ALICE", channel=str(dm.result["channel"]))
    assert bot.server.call(bot.runtime.drain(10))
    assert set(bot.heimdall.tokens["alice"]) == set()
    [told] = told_alice(bot)
    assert "mallory_spare" in told and "not theirs to take" in told


def test_a_link_replaced_or_removed_meanwhile_does_not_save_what_it_made(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=24 * 30)
    link_with(bot, pasted.apikey)
    create_as(bot, "mallory_spare")
    bot.user.command(f"admin unlink <@{MALLORY}>", user=ADMIN)
    bot.slack.wait_for("response_url", where=lambda c: "unlink" in text_of(c).lower() or "no longer" in text_of(c))
    assert table_rows(bot, IdentityLink) == []
    assert "mallory_spare" in bot.heimdall.tokens["alice"]  # an unlink alone keeps it...
    bot.heimdall.remove_token("alice", "pasted")  # ...until the key that made the link dies (here in DataOS)
    bot.server.call(Sweeper(bot.runtime).run("discovery"))
    assert "mallory_spare" not in bot.heimdall.tokens["alice"]
    assert len(told_alice(bot)) == 1


def test_a_link_that_ends_by_expiry_keeps_its_keys_which_still_prove_nothing(bot: Bot) -> None:
    pasted = bot.heimdall.add_token("alice", "pasted", hours=3)
    link_with(bot, pasted.apikey)
    spare = create_as(bot, "mallory_spare")
    bot.clock.advance(hours=4)
    bot.user.command("list", user=MALLORY)
    bot.slack.wait_for("response_url", where=lambda c: "has expired" in text_of(c))
    assert bot.server.call(bot.runtime.drain(10))
    assert "mallory_spare" in bot.heimdall.tokens["alice"] and told_alice(bot) == []
    assert [r["state"] for r in table_rows(bot, MintedKey)] == ["kept"]
    refused = link_with(bot, spare.apikey)
    assert "made (or shown) through a self-link" in refused
    assert ("link", "refused:minted-key") in [(r["action"], r["outcome"]) for r in table_rows(bot, AuditEntry)]


def test_keys_of_a_person_linked_by_an_admin_or_by_e_mail_are_not_recorded(bot: Bot) -> None:
    create_as(bot, "alices_own", user="U0ALICE")  # mapped by e-mail
    bot.user.command(f"admin link <@{MALLORY}> bob", user=ADMIN)
    bot.slack.wait_for("response_url", where=lambda c: "bob" in text_of(c))
    opened = bot.user.command_modal("create", user=MALLORY)
    bot.user.submit(view_id_of(opened), create_values(name="via_admin_link"), user=MALLORY)
    bot.slack.wait_for("views.update", where=lambda c: "via_admin_link" in text_of(c) and "created" in text_of(c))
    assert table_rows(bot, MintedKey) == []
