"""Issue #20 A2: guests and people from other organisations.

A Slack Connect member (another `team_id`, or `is_stranger`) is never mapped and cannot link; neither can a
guest (`is_restricted`, `is_ultra_restricted`) unless ALLOW_GUESTS=true. Each gets a sentence saying why,
and their e-mails never make an employee's e-mail ambiguous (the employee keeps getting reminders)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.identity import SlackProfile, Workspace, standing
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.reminders.sweep import Sweeper
from bot.store.schema import AuditEntry, IdentityLink
from tests.conftest import FakeClock
from tests.e2e.conftest import Bot
from tests.e2e.harness import make_settings, running_bot, table_rows, text_of, view_id_of

ADMIN = "U0ADMIN"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN}


def answer(bot: Bot, text: str, user: str) -> str:
    before = len(bot.slack.responses())
    bot.user.command(text, user=user)
    return text_of(bot.slack.wait_for("response_url", before + 1)[before])


def link_with(bot: Bot, key: str, user: str) -> str:
    opened = bot.user.command_modal("link", user=user)
    before = len(bot.slack.calls_to("views.update"))
    bot.user.submit(view_id_of(opened), {"link_block": {"pasted_key": {"type": "plain_text_input", "value": key}}},
                    user=user)
    text = text_of(bot.slack.wait_for("views.update", before + 1)[before])
    assert bot.server.call(bot.runtime.drain(10))
    return text


@pytest.mark.parametrize("kind", ["slack connect", "stranger"])
def test_a_member_of_another_organisation_is_never_mapped_and_cannot_link(bot: Bot, kind: str) -> None:
    bot.heimdall.add_user("erin", "erin@partner.example")
    erins = bot.heimdall.add_token("erin", "erins", hours=48)
    if kind == "slack connect":
        bot.slack.add_user("U0ERIN", "erin@partner.example", team_id="T0PARTNER")
    else:
        bot.slack.add_user("U0ERIN", "erin@partner.example", is_stranger=True)
    bot.server.call(bot.runtime.directory.refresh())
    text = answer(bot, "list", "U0ERIN")
    assert "another organisation" in text and "Nothing was done" in text and "erins" not in text
    refused = link_with(bot, erins.apikey, "U0ERIN")
    assert "another organisation" in refused and "Nothing was linked" in refused
    assert table_rows(bot, IdentityLink) == []
    assert ("link", "refused:other_org") in [(r["action"], r["outcome"]) for r in table_rows(bot, AuditEntry)]
    # An admin cannot link them either.
    bot.slack.add_user(ADMIN, "admin@example.com")
    assert "another organisation" in answer(bot, "admin link <@U0ERIN> erin", ADMIN)
    assert table_rows(bot, IdentityLink) == []


@pytest.mark.parametrize("flag", ["is_restricted", "is_ultra_restricted"])
def test_a_guest_is_not_mapped_and_cannot_link(bot: Bot, flag: str) -> None:
    bot.heimdall.add_user("gus", "gus@example.com")
    key = bot.heimdall.add_token("gus", "gus_key", hours=48)
    bot.slack.add_user("U0GUS", "gus@example.com", **{flag: True})
    bot.server.call(bot.runtime.directory.refresh())
    text = answer(bot, "list", "U0GUS")
    assert "Guest accounts cannot manage DataOS keys" in text and "gus_key" not in text
    refused = link_with(bot, key.apikey, "U0GUS")
    assert "Guest accounts" in refused and "Nothing was linked" in refused
    assert table_rows(bot, IdentityLink) == []
    assert ("link", "refused:guest") in [(r["action"], r["outcome"]) for r in table_rows(bot, AuditEntry)]


def test_allow_guests_admits_guests(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                   tmp_path: Path) -> None:
    heimdall.add_user("gus", "gus@example.com")
    heimdall.add_token("gus", "gus_key", hours=48)
    slack.add_user("U0GUS", "gus@example.com", is_restricted=True)
    slack.add_user("U0OUT", "gus@example.com", team_id="T0PARTNER")  # still never: another organisation
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"), allow_guests=True)
    with running_bot(settings, clock, slack) as (_server, user):
        user.command("list", user="U0GUS")
        assert "gus_key" in text_of(slack.wait_for("response_url")[0])
        user.command("list", user="U0OUT")
        assert "another organisation" in text_of(slack.wait_for("response_url", 2)[1])


def test_outsiders_and_guests_never_make_an_employees_email_ambiguous(bot: Bot) -> None:
    bot.clock._now = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)  # a Wednesday morning in Berlin
    bot.heimdall.add_token("alice", "soon", hours=20)
    bot.slack.add_user("U0ALICEGUEST", "alice@example.com", is_ultra_restricted=True)
    bot.slack.add_user("U0ALICEEXT", "Alice@Example.com", team_id="T0PARTNER")
    bot.slack.add_user("U0ALICESTRANGE", "alice@example.com", is_stranger=True)
    bot.server.call(Sweeper(bot.runtime).run("discovery"))
    dms = [c for c in bot.slack.delivered("chat.postMessage") if "soon" in text_of(c)]
    assert [c.params["channel"] for c in dms] == ["U0ALICE"]
    members = bot.server.call(bot.runtime.slack_directory.members())
    assert "U0ALICEGUEST" not in members and "U0ALICEEXT" not in members and "U0ALICESTRANGE" not in members


def test_a_member_change_event_drops_a_member_who_became_a_guest(bot: Bot) -> None:
    bot.server.call(bot.runtime.slack_directory.refresh())
    assert "U0BOB" in bot.server.call(bot.runtime.slack_directory.members())
    user = bot.slack.add_user("U0BOB", "bob@example.com", is_restricted=True)
    bot.user.event({"type": "user_change", "user": user}, event_id="EvGUEST1")
    assert bot.server.call(bot.runtime.drain(10))
    assert "U0BOB" not in bot.server.call(bot.runtime.slack_directory.members())


def test_standing_knows_grid_organisations() -> None:
    home = Workspace("T0123", "E0ACME")
    member = SlackProfile("U1", "a@x", None, 0)
    assert standing(member, home) == "member"
    assert standing(SlackProfile("U1", "a@x", None, 0, team_id="T0123"), home) == "member"
    assert standing(SlackProfile("U1", "a@x", None, 0, team_id="T0OTHERWS", enterprise_id="E0ACME"), home) == "member"
    elsewhere = SlackProfile("U1", "a@x", None, 0, team_id="T0OTHERWS", enterprise_id="E0ELSE")
    assert standing(elsewhere, home) == "other_org"
    assert standing(SlackProfile("U1", "a@x", None, 0, team_id="T0OTHERWS"), Workspace("T0123")) == "other_org"
    assert standing(SlackProfile("U1", "a@x", None, 0, team_id="T0123", stranger=True), home) == "other_org"
    assert standing(SlackProfile("U1", "a@x", None, 0, team_id="T0123", guest=True), home) == "guest"
