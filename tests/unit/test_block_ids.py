"""Slack tells a click apart only by (block_id, action_id) and sends the clicked element's value. So in
every message and view the bot builds, each block that carries an action has an explicit block id, no
two interactive elements share (block_id, action_id), and no two blocks share an id; and every button
that changes a key names its exact key (name and expiration)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import ButtonElement

import bot.slack.blocks
from bot.dataos import Token
from bot.domain.key_policy import Rule
from bot.domain.keys import exact_digest, key_ref
from bot.domain.policy import ValidityPolicy
from bot.identity import Denied, Identity
from bot.playground.heimdall_model import make_key_value
from bot.policy.digest import Digest, LongKey
from bot.slack import key_buttons, leak_dms
from bot.slack.blocks import rotation
from bot.slack.blocks.approvals import deny_modal, policy_message, request_message, requested_modal, requests_message
from bot.slack.blocks.common import Message, denied_message, info_modal, text_message, working_modal
from bot.slack.blocks.digest import digest_message
from bot.slack.blocks.forms import create_modal, created_modal, renew_modal
from bot.slack.blocks.help import help_message
from bot.slack.blocks.home import home_view
from bot.slack.blocks.identity import link_modal, whoami_message
from bot.slack.blocks.keys import keys_message, revoke_modal, revoke_picker_modal, secret_message, secret_modal
from bot.slack.blocks.notices import notice_message
from bot.slack.blocks.reminders import (
    bot_key_reminder_message,
    reminder_done_message,
    reminder_message,
    reminder_message_from_models,
)
from bot.slack.blocks.revocations import overdue_done_message, overdue_revocation_message
from bot.slack.blocks.team_reminders import (
    UnownedKey,
    channel_unreachable_message,
    team_reminder_done_message,
    team_reminder_message,
    unowned_digest_message,
)
from bot.slack.blocks.teams import (
    TeamSection,
    team_created_modal,
    team_keys_message,
    team_lists,
    team_secret_message,
)
from bot.slack.blocks.workflows import answered_message, confirm_message
from bot.slack.key_buttons import parse_exact, parse_option, parse_revoke_all
from bot.store.approvals import Request
from bot.store.notices import Notice
from bot.store.rotations import Target
from bot.store.teams import Team
from tests.unit.test_blocks import check_message, check_view

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
POLICY = ValidityPolicy(presets=(24, 168, 720), default=720, maximum=8760)
ME = Identity("U1", "alice", "e-mail", "alice@example.com")


def token(name: str, hours: int = 72) -> Token:
    return Token.model_validate({"name": name, "expiration": (NOW + timedelta(hours=hours)).isoformat(),
                                 "data": {"apikey": make_key_value(name)}})


def request(i: int = 0, state: str = "open") -> Request:
    return Request(id=f"abc{i:09d}", created_at=NOW, expires_at=NOW + timedelta(hours=8),
                   remind_at=NOW + timedelta(hours=4), requester="U1", kind="personal", dataos_user_id="alice",
                   key_name=f"loader_{i}", hours=24 * 180, reason="<b>for the CI</b> & more", approvers="admins",
                   state=state, decided_by="U2" if state != "open" else None, decided_at=NOW)


KEYS = [token("ci_loader", 30), token("nightly_loader", 60), token("notebook_sandbox", 90), token("n" * 300, 120)]
TEAM = Team("etl-ingest", "C1", ("U1",), ("S1",), "U2", NOW)
ROTATING = Target("etl-ingest", "team", "vault:secret/p/etl#apikey", 720, 168, 3600, "on", "k", NOW, NOW, "U2", NOW)


def builders() -> dict[str, Callable[[], Any]]:
    """Every builder of a message or view, each with several keys where it shows keys."""
    return {
        "help_message": lambda: help_message(unknown="x", suggestion="list"),
        "text_message": lambda: text_message("hello"),
        "denied_message": lambda: denied_message(Denied("U1", "no_match", "No DataOS user.")),
        "keys_message": lambda: keys_message(ME, KEYS, NOW, notice="n"),
        "keys_message paged": lambda: keys_message(ME, [token(f"k{i}") for i in range(45)], NOW, page=1),
        "keys_message empty": lambda: keys_message(ME, [], NOW),
        "whoami_message": lambda: whoami_message(ME, None),
        "secret_message": lambda: secret_message(KEYS[0], NOW),
        "create_modal": lambda: create_modal(POLICY, error="taken", render="r1"),
        "create_modal with a name warning": lambda: create_modal(POLICY, name="a-b", error="x", name_error="y",
                                                                 render="r2"),
        "home_view": lambda: home_view(ME, KEYS, NOW, reminders_on=True, notice="n"),
        "home_view many": lambda: home_view(ME, [token(f"k{i}") for i in range(45)], NOW, reminders_on=False),
        "reminder_message": lambda: reminder_message("ci_loader", NOW + timedelta(days=3), NOW, "7d",
                                                      lifetime_hours=720, snooze_words="1 day"),
        "reminder_message_from_models": lambda: reminder_message_from_models(
            "ci_loader", NOW + timedelta(days=3), NOW, "7d", lifetime_hours=720, snooze_words="1 day"),
        "bot_key_reminder_message": lambda: bot_key_reminder_message("k", NOW, NOW, "bot"),
        "reminder_done_message": lambda: reminder_done_message("k", NOW, "done"),
        "renew_modal": lambda: renew_modal(POLICY, old_name="k", old_expiration=NOW, now=NOW,
                                           suggested_name="k2", lifetime_hours=None, grace_hours=24,
                                           meta={"old": "k"}),
        "info_modal": lambda: info_modal("t", "x", buttons=[ButtonElement(
            text="a", action_id="a", value="1")], context="c"),
        "working_modal": lambda: working_modal("t", "x"),
        "created_modal": lambda: created_modal("k", NOW, NOW, delivered=False, note="n"),
        "secret_modal": lambda: secret_modal(KEYS[0], NOW),
        "revoke_modal": lambda: revoke_modal(KEYS[0], NOW),
        "revoke_picker_modal": lambda: revoke_picker_modal(KEYS),
        "link_modal": lambda: link_modal(),
        "admin_keys_message": lambda: key_buttons.admin_keys_message("U2", ME, KEYS),
        "admin_revoked_message": lambda: key_buttons.admin_revoked_message("U9", "k", "alice", NOW),
        "offboarding_notice": lambda: key_buttons.offboarding_notice("U2", "bob", KEYS),
        "reactivated_notice": lambda: key_buttons.reactivated_notice("U2", NOW, restored=["etl"]),
        "offboarding_notice many": lambda: key_buttons.offboarding_notice(
            "U2", "bob", [token(f"key_{i}", i + 1) for i in range(400)]),
        "leak_message": lambda: leak_dms.leak_message("k", "alice", "C1", "U2", None, KEYS[0].expiration, renew=True),
        "request_message": lambda: request_message(request(), deciders="<@U2>"),
        "request_message approved": lambda: request_message(request(state="approved"), deciders="<@U2>"),
        "requested_modal": lambda: requested_modal(request(), deciders="<@U2>", channel="C1", told=0),
        "requests_message": lambda: requests_message([request(i) for i in range(12)],
                                                     [request(i + 20) for i in range(12)]),
        "deny_modal": lambda: deny_modal("abc", "loader", "U1"),
        "notice_message": lambda: notice_message([Notice("alice", f"ui_{i}", NOW + timedelta(days=i + 1), NOW,
                                                         "owner:U1", "g") for i in range(20)], NOW),
        "digest_message": lambda: digest_message(Digest(NOW - timedelta(days=7), NOW, long_keys=[
            LongKey("bob", f"k{i}", NOW, 9000, 8760) for i in range(9)], open_requests=[request(i) for i in range(7)],
            problems=["x"] * 30)),
        "confirm_message": lambda: confirm_message("onboarding_<b>", 720),
        "confirm_message unnamed": lambda: confirm_message(None, 24),
        "answered_message": lambda: answered_message("Created `x`."),
        "policy_message": lambda: policy_message(Rule("defaults", approval_above=48), None, source="/etc/p.toml"),
        "leak_message unknown": lambda: leak_dms.leak_message("k", "alice", "C1", "U2", None, None, renew=False),
        "team_keys_message": lambda: team_keys_message(TEAM, KEYS, NOW),
        "team_lists many": lambda: team_lists([TeamSection(Team(f"app-{i}", "C1", ("U1",), (), "U2", NOW), KEYS)
                                               for i in range(4)], NOW, more=["app-9"])[-1],
        "team_created_modal": lambda: team_created_modal("etl-ingest", "k", NOW, NOW, delivered=False),
        "team_secret_message": lambda: team_secret_message(KEYS[0], "etl-ingest", NOW),
        "team_reminder_message": lambda: team_reminder_message("etl-ingest", "k", NOW, NOW, "7d", owners="<@U1>",
                                                               lifetime_hours=720, snooze_words="1 day"),
        "team_reminder_done_message": lambda: team_reminder_done_message("etl-ingest", "k", NOW, "done"),
        "channel_unreachable_message": lambda: channel_unreachable_message("etl-ingest", "C1", "is_archived"),
        "unowned_digest_message": lambda: unowned_digest_message(
            [UnownedKey(f"app-{i}", f"key_{i}", NOW) for i in range(25)], NOW),
        "leak_message instead": lambda: leak_dms.leak_message("k", "etl", "C1", "U2", None, KEYS[0].expiration,
                                                              renew=True, team=True, instead_of="C9"),
        "overdue_revocation_message": lambda: overdue_revocation_message(
            "alice", "k", NOW, NOW, "U1", team=False, attempts=5, error="DataOSUnavailable"),
        "overdue_revocation_message unknown": lambda: overdue_revocation_message(
            "etl", "k", None, NOW, "U1", team=True, attempts=1, error=None),
        "overdue_done_message": lambda: overdue_done_message("k", "done"),
        "failure_message": lambda: rotation.failure_message("etl", "team", target="secret/p/etl", reason="403",
                                                            old_name="k", old_expiration=NOW, owners="<@U1>",
                                                            successor="kept"),
        "failure_message bot": lambda: rotation.failure_message("bot", "bot", target="secret/p/bot", reason="x",
                                                                old_name="k", old_expiration=NOW, owners=None,
                                                                successor="none"),
        "failure_done_message": lambda: rotation.failure_done_message("etl", "team", "secret/p/etl", "retried"),
        "admin_failure_message": lambda: rotation.admin_failure_message("etl", "team", "secret/p/etl", "x", "C1"),
        "admin_failure_message by DM": lambda: rotation.admin_failure_message("etl", "team", "secret/p/etl", "x", None,
                                                                              by_dm=True, shared="C1"),
        "old_key_stuck_message": lambda: rotation.old_key_stuck_message(
            "etl", "team", old_name="k", old_expiration=NOW, new_name="k_2", revoke_at=NOW, reason="503",
            attempts=3),
        "team_reminder_message rotating": lambda: team_reminder_message(
            "etl-ingest", "k", NOW + timedelta(days=3), NOW, "7d", owners="<@U1>", lifetime_hours=720,
            snooze_words="1 day", rotates_on=NOW + timedelta(days=1)),
        "team_lists rotating": lambda: team_lists([TeamSection(TEAM, KEYS, rotation=ROTATING),
                                                   TeamSection(Team("app-2", "C1", ("U1",), (), "U2", NOW), KEYS,
                                                               rotation=ROTATING)], NOW)[0],
    }


def _blocks(built: Any) -> list[dict[str, Any]]:
    return built.blocks if isinstance(built, Message) else built["blocks"]


def _interactive(block: dict[str, Any]) -> list[dict[str, Any]]:
    found = [block.get("accessory"), block.get("element"), *(block.get("elements") or [])]
    return [e for e in found if isinstance(e, dict) and "action_id" in e]


@pytest.mark.parametrize("name", sorted(builders()))
def test_every_action_has_its_own_explicit_block_id(name: str) -> None:
    built = builders()[name]()
    if isinstance(built, Message):
        check_message(built)
    else:
        check_view(built)
    ids = [b["block_id"] for b in _blocks(built) if "block_id" in b]
    assert len(ids) == len(set(ids)), f"{name}: two blocks share an id"
    seen: set[tuple[str, str]] = set()
    for block in _blocks(built):
        elements = _interactive(block)
        if elements:
            assert block.get("block_id"), f"{name}: a {block['type']} block with an action has no block_id"
        for element in elements:
            pair = (block["block_id"], element["action_id"])
            assert pair not in seen, f"{name}: two elements are both {pair}"
            seen.add(pair)


PREFIXES = ("_message", "_modal", "_view", "_notice")


def test_the_walk_covers_every_builder() -> None:
    """A new builder must be added above, or its buttons go unchecked."""
    walked = {name.split(" ")[0] for name in builders()}
    surfaces = [importlib.import_module(f"bot.slack.blocks.{m.name}")
                for m in pkgutil.iter_modules(bot.slack.blocks.__path__)]
    for module in (*surfaces, key_buttons, leak_dms):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and name.endswith(PREFIXES) and not name.startswith("_"):
                assert name in walked, f"{module.__name__}.{name} is not walked"


def test_each_revoke_names_its_exact_key() -> None:
    shown = [key_buttons.ExactKey(key_ref(t.name), t.expiration) for t in KEYS]
    for built in (keys_message(ME, KEYS, NOW), home_view(ME, KEYS, NOW, reminders_on=True)):
        values = [e["value"] for b in _blocks(built) for e in _interactive(b) if e["action_id"] == "revoke_key"]
        assert [p[0] if p else None for p in map(parse_exact, values)] == shown
    admin = key_buttons.admin_keys_message("U2", ME, KEYS)
    values = [e["value"] for b in admin.blocks for e in _interactive(b)]
    assert [parse_exact(v, "u") for v in values] == [(k, {"u": "alice"}) for k in shown]
    options = revoke_picker_modal(KEYS)["blocks"][0]["element"]["options"]
    picked = [parse_option(o["value"]) for o in options]
    assert [p.expiration if p else None for p in picked] == [t.expiration for t in KEYS]
    assert [p.name for p in picked if p][:3] == [t.name for t in KEYS[:3]] and all(len(o["value"]) <= 150
                                                                                for o in options)


def test_revoke_all_carries_exactly_the_listed_keys_in_buttons_within_slack_limits() -> None:
    many = [token(f"key_{i}_" + "x" * 60, i + 1) for i in range(400)]
    notice = key_buttons.offboarding_notice("U2", "bob", many)
    buttons = [e for b in notice.blocks for e in _interactive(b)]
    assert len(buttons) > 1 and all(len(b["value"]) <= 2000 for b in buttons)
    requests = [parse_revoke_all(b["value"]) for b in buttons]
    assert all(r is not None and r.dataos_user == "bob" and r.who == "U2" for r in requests)
    carried = [d for r in requests if r for d in r.digests]
    assert carried == [exact_digest(t.name, t.expiration) for t in many]  # each key once, in order
    one = key_buttons.offboarding_notice("U2", "bob", many[:2])
    (button,) = [e for b in one.blocks for e in _interactive(b)]
    assert button["text"]["text"] == "Revoke all 2"


def test_a_key_made_again_under_its_name_is_another_key() -> None:
    old, new = token("ci_loader", 30), token("ci_loader", 31)
    assert exact_digest(old.name, old.expiration) != exact_digest(new.name, new.expiration)


@pytest.mark.parametrize("value", ["", "ci_loader", "{}", "[]", '{"k":"x"}', '{"k":"x","e":"soon"}',
                                   '{"k":"x","e":true}', '{"k":"","e":1}', '{"k":5,"e":1}', '{"k":"x","e":-1}',
                                   '{"k":"x","e":99999999999999999999}'])
def test_damaged_values_do_not_parse(value: str) -> None:
    assert parse_exact(value) is None
    assert parse_revoke_all(value) is None


@pytest.mark.parametrize("value", ['{"u":"bob","s":"U2","p":"1/1","d":"abc"}',
                                   '{"u":"bob","s":"U2","p":"2/1","d":"0123456789ab"}',
                                   '{"u":"bob","s":"U2","p":"1/1","d":""}',
                                   '{"u":"","s":"U2","p":"1/1","d":"0123456789ab"}',
                                   '{"u":"bob","s":"U2","p":"1/1","d":"0123456789AB"}'])
def test_damaged_revoke_all_values_do_not_parse(value: str) -> None:
    assert parse_revoke_all(value) is None
