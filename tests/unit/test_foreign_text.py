"""Text nobody in this project wrote, walked through every builder: it never becomes a mention, a
channel ping or a link in mrkdwn or a notification `text`, and no size of it makes a builder raise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.audit import audit_line
from bot.dataos import DataOSConflict, DataOSNotFound, DataOSUnavailable, Token, User
from bot.domain.policy import ValidityPolicy
from bot.identity import Denied, Identity, SlackProfile, decide
from bot.playground.heimdall_model import make_key_value
from bot.service import LinkResult
from bot.slack import key_buttons, leak_dms
from bot.slack.blocks.common import Message, denied_message, render_id
from bot.slack.blocks.forms import create_modal, created_modal, renew_modal
from bot.slack.blocks.help import help_message
from bot.slack.blocks.home import home_view
from bot.slack.blocks.identity import whoami_message
from bot.slack.blocks.keys import keys_message, revoke_modal, revoke_picker_modal, secret_message, secret_modal
from bot.slack.blocks.reminders import bot_key_reminder_message, reminder_done_message, reminder_message
from bot.slack.blocks.revocations import overdue_revocation_message
from bot.slack.errors import explain
from bot.slack.links import displaced_text
from bot.store import Audit
from tests.unit.test_blocks import check_message, check_view

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
POLICY = ValidityPolicy(presets=(24, 168, 720), default=720, maximum=8760)
#: Markers that only hostile input can produce: the bot's own mentions name real ids, never these.
HOSTILE = "<!channel> <!here|here> <@UEVIL> <#CEVIL|general> <https://evil.example|renew> & <mailto:x@y>"
RAW = ("<!channel", "<!here", "<@UEVIL", "<#CEVIL", "<https://evil", "<mailto:")


def token(name: str, *, description: str | None = None, hours: int = 72) -> Token:
    return Token.model_validate({"name": name, "expiration": (NOW + timedelta(hours=hours)).isoformat(),
                                 "data": {"apikey": make_key_value("x")}, "description": description})


def rendered(built: Any) -> str:
    """What Slack reads as mrkdwn: the notification `text` and every mrkdwn text object (button values,
    metadata and plain_text are never parsed for mentions or links)."""
    if isinstance(built, str):
        return built
    found: list[str] = [built.text] if isinstance(built, Message) else []
    stack: list[Any] = [built.blocks if isinstance(built, Message) else built]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "mrkdwn" and isinstance(item.get("text"), str):
                found.append(item["text"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return "\n".join(found)


def identity(dataos_user: str, email: str) -> Identity:
    return Identity("U1", dataos_user, "e-mail", email)


def builders(text: str) -> dict[str, Callable[[], Any]]:
    """Every builder, with `text` in each place where something from outside the bot goes."""
    me = identity(text, text)
    user = User(id=text, name=text, email=text)
    keys = [token(text, description=text), token(text + "2")]
    profile = SlackProfile("U9", text, None, 0)
    entry = Audit(at=NOW, actor_slack_id="U1", action="revoke", outcome=text[:32], dataos_user_id=text,
                  key_name=text, key_expiration=NOW, detail=text)
    return {
        "help": lambda: help_message(unknown=text[:200]),
        "denied": lambda: denied_message(decide("U1", None, profile, [])),  # type: ignore[arg-type]
        "keys": lambda: keys_message(me, keys, NOW, notice=None),
        "no keys": lambda: keys_message(me, [], NOW),
        "whoami": lambda: whoami_message(me, user),
        "secret": lambda: secret_message(keys[0], NOW),
        "reminder": lambda: reminder_message(text, NOW + timedelta(days=3), NOW, "7d", lifetime_hours=None,
                                              snooze_words="1 day"),
        "reminder done": lambda: reminder_done_message(text, NOW, "revoked"),
        "bot key": lambda: bot_key_reminder_message(text, NOW + timedelta(days=3), NOW, text),
        "home": lambda: home_view(me, keys, NOW, reminders_on=True),
        "renew": lambda: renew_modal(POLICY, old_name=text, old_expiration=NOW, now=NOW, suggested_name="x",
                                     lifetime_hours=None, grace_hours=24, meta={"old": "x"}),
        "created": lambda: created_modal(text, NOW, NOW, delivered=False, note=None),
        "secret modal": lambda: secret_modal(keys[0], NOW),
        "revoke": lambda: revoke_modal(keys[0], NOW),
        "picker": lambda: revoke_picker_modal(keys),
        "audit line": lambda: audit_line(entry),
        "explain conflict": lambda: explain(DataOSConflict(), doing="creating your key", key_name=text),
        "explain not found": lambda: explain(DataOSNotFound(), doing="revoking your key", key_name=text),
        "explain unavailable": lambda: explain(DataOSUnavailable(text, changed=None), doing="creating your key"),
        "displaced": lambda: displaced_text(LinkResult(text, "U1", "U1")),
        "admin keys": lambda: key_buttons.admin_keys_message("U1", me, keys),
        "admin revoked": lambda: key_buttons.admin_revoked_message("U1", text, text, NOW),
        "offboarding notice": lambda: key_buttons.offboarding_notice("U1", text, keys),
        "revoke all result": lambda: key_buttons.revoke_all_result(
            "U1", key_buttons.RevokeAll(text, "U2", ("0" * 12,), 1, 1), revoked=[text], gone=1, left=[text],
            failed=[text]),
        "reactivated": lambda: key_buttons.reactivated_notice(text, NOW, restored=[text]),
        "replaced": lambda: key_buttons.replaced_text(text),
        "gone": lambda: key_buttons.gone_text(text),
        "overdue revocation": lambda: overdue_revocation_message(text, text, NOW, NOW, "U1", team=True, attempts=5,
                                                                 error=text),
        "overdue revocation unknown": lambda: overdue_revocation_message(text, text, None, NOW, "U1", team=False,
                                                                         attempts=1, error=None),
        "leak by DM": lambda: leak_dms.leak_message(text, "etl-ingest", "C1", "U2", None, NOW, renew=True, team=True,
                                                    instead_of="C9"),
    }


@pytest.mark.parametrize("name", sorted(builders("x")))
def test_no_builder_lets_foreign_text_become_mrkdwn(name: str) -> None:
    out = rendered(builders(HOSTILE)[name]())
    leaked = [raw for raw in RAW if raw in out]
    assert leaked == [], f"{name} put {leaked} into Slack text"


def test_form_prefill_from_typed_arguments_is_escaped() -> None:
    from bot.config import Settings
    from bot.slack.commands import create_prefill

    class Rt:
        policy = POLICY
        settings: Settings | None = None

    prefill = create_prefill(Rt(), ["mykey", "30d", "extra", "<!here>", "<https://evil.example|x>"])  # type: ignore[arg-type]
    prefill_bad = create_prefill(Rt(), ["<!channel>", "<@UEVIL>"])  # type: ignore[arg-type]
    for p in (prefill, prefill_bad):
        out = rendered(create_modal(POLICY, **p))
        assert [raw for raw in RAW if raw in out] == []


@pytest.mark.parametrize("size", [300, 5000])
def test_builders_render_whatever_the_size_of_what_dataos_sends(size: int) -> None:
    huge = "n" * size
    for name, build in builders(huge).items():
        out = build()
        if isinstance(out, Message):
            check_message(out)
        elif isinstance(out, dict):
            check_view(out)
        else:
            assert isinstance(out, str) and len(out) < 40_000, name


def test_many_keys_with_long_names_page_and_pick() -> None:
    many = [token("k" * 400 + str(i)) for i in range(150)]
    check_message(keys_message(identity("alice", "a@example.com"), many, NOW))
    picker = revoke_picker_modal(many)
    check_view(picker)
    options = picker["blocks"][0]["element"]["options"]
    assert len(options) == 100 and all(len(o["value"]) <= 150 for o in options)
    assert len({o["value"] for o in options}) == 100  # long names stay distinguishable
    check_view(home_view(identity("alice", "a@example.com"), many, NOW, reminders_on=True))


def test_prefilled_inputs_never_exceed_their_max_length() -> None:
    view = create_modal(POLICY, name="n" * 500, validity_text="1" * 40 + "h")
    for block in view["blocks"]:
        element = block.get("element") or {}
        if "initial_value" in element and "max_length" in element:
            assert len(element["initial_value"]) <= element["max_length"]


def test_block_ids_change_between_renderings_of_a_message() -> None:
    me = identity("alice", "a@example.com")
    first = keys_message(me, [token("a")], NOW)
    second = keys_message(me, [token("a")], NOW)
    ids = lambda m: [b["block_id"] for b in m.blocks if "block_id" in b]  # noqa: E731
    assert ids(first) and set(ids(first)).isdisjoint(ids(second))
    drawn_again = create_modal(POLICY, name="x", error="taken", render=render_id())
    assert all(b["block_id"].startswith(("name_block~", "validity_block~", "custom_block~"))
               for b in drawn_again["blocks"] if b["type"] == "input")


def test_denial_for_an_unmatched_email_escapes_it() -> None:
    denied = decide("U1", None, SlackProfile("U1", "<!channel>@x.org", None, 0), [])
    assert isinstance(denied, Denied) and "<!channel" not in denied.message
