"""Every message and view we build validates with slack_sdk.models and stays within Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.dataos import Token
from bot.domain.policy import ValidityPolicy
from bot.identity import Denied, Identity
from bot.playground.heimdall_model import make_key_value
from bot.playground.slack.rules import message_refusal, view_refusal
from bot.slack.blocks.common import Message, denied_message, info_modal, slack_date, text_message, working_modal
from bot.slack.blocks.forms import create_modal, created_modal
from bot.slack.blocks.help import help_message
from bot.slack.blocks.identity import link_modal, whoami_message
from bot.slack.blocks.keys import keys_message, revoke_modal, revoke_picker_modal, secret_message, secret_modal
from bot.slack.blocks.reminders import reminder_message, reminder_message_from_models

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
POLICY = ValidityPolicy(presets=(24, 168, 720, 2160), default=720, maximum=8760)
ME = Identity("U1", "alice", "e-mail", "alice@example.com")


def token(name: str = "ci_loader", hours: int = 72, description: str | None = None) -> Token:
    return Token.model_validate({"name": name, "expiration": (NOW + timedelta(hours=hours)).isoformat(),
                                 "data": {"apikey": make_key_value(name)}, "description": description})


def check_message(message: Message) -> None:
    assert 0 < len(message.blocks) <= 50
    assert message.text
    refusal = message_refusal(message.kwargs())  # what the Slack stand-in (and Slack) would say to it
    assert refusal is None, refusal
    for raw in message.blocks:
        parsed = Block.parse(raw)
        assert parsed is not None
        parsed.to_dict()  # validates lengths and required fields
        _check_lengths(raw)


def check_view(view: dict[str, Any]) -> None:
    View(**view).to_dict()
    refusal = view_refusal(view)
    assert refusal is None, refusal
    assert len(view["blocks"]) <= 100
    assert len((view.get("title") or {"text": ""})["text"]) <= 24
    assert len(view.get("private_metadata") or "") <= 3000
    for raw in view["blocks"]:
        _check_lengths(raw)


def _check_lengths(raw: dict[str, Any]) -> None:
    text = raw.get("text")
    if isinstance(text, dict):
        assert len(text["text"]) <= 3000
    for element in raw.get("elements", []):
        if element.get("type") == "button":
            assert len(element.get("value", "")) <= 2000
            assert len(element["action_id"]) <= 255
    assert len(raw.get("block_id", "")) <= 255


def test_help_messages() -> None:
    check_message(help_message())
    check_message(help_message(unknown="x" * 500, suggestion="list"))


@pytest.mark.parametrize("count", [0, 1, 19, 20, 21, 45, 500])
def test_keys_message_within_50_blocks(count: int) -> None:
    tokens = [token(f"key_{i:03d}" + "x" * 50, hours=i - 5, description="d" * 500) for i in range(count)]
    for page in range(0, max(1, count // 20 + 2)):
        message = keys_message(ME, tokens, NOW, page=page, notice="Key *x* revoked.")
        check_message(message)


def test_keys_message_never_contains_values() -> None:
    tokens = [token(f"k{i}") for i in range(5)]
    text = str(keys_message(ME, tokens, NOW).blocks)
    for t in tokens:
        assert t.secret is not None and t.secret.get_secret_value() not in text


def test_other_messages() -> None:
    check_message(text_message("hello"))
    check_message(denied_message(Denied("U1", "no_match", "No DataOS user has that e-mail.")))
    check_message(whoami_message(ME, None))
    check_message(secret_message(token("x" * 64), NOW))


def test_views() -> None:
    check_view(create_modal(POLICY))
    check_view(create_modal(POLICY, name="x" * 64, validity_hours=None, validity_text="36h", error="e" * 2000,
                            channel_id="C" * 20))
    check_view(create_modal(POLICY, name="x-" * 32, name_error="n" * 5000))
    check_view(info_modal("A title that is far too long for Slack", "text"))
    check_view(working_modal("Create a DataOS key", "Creating…"))
    check_view(created_modal("x" * 64, NOW + timedelta(days=1), NOW, delivered=True))
    check_view(created_modal("x", NOW + timedelta(days=1), NOW, delivered=False))
    check_view(created_modal("x", NOW + timedelta(days=1), NOW, delivered=None))
    check_view(secret_modal(token(), NOW))
    check_view(revoke_modal(token("y" * 64), NOW))
    check_view(revoke_picker_modal([token(f"k{i}") for i in range(150)]))
    check_view(link_modal())


def test_create_modal_preselects_default_and_custom() -> None:
    view = create_modal(POLICY)
    select = view["blocks"][1]["element"]
    assert select["initial_option"]["value"] == "720h"
    assert [o["value"] for o in select["options"]] == ["24h", "168h", "720h", "2160h", "custom"]
    view = create_modal(POLICY, validity_text="36h")
    assert view["blocks"][1]["element"]["initial_option"]["value"] == "custom"
    assert view["blocks"][2]["element"]["initial_value"] == "36h"


def test_names_are_escaped() -> None:
    message = keys_message(ME, [token(description="<!channel> & <@U123>")], NOW)
    assert "<!channel>" not in str(message.blocks) and "&lt;!channel&gt;" in str(message.blocks)


def test_slack_date_token() -> None:
    moment = datetime(2026, 12, 4, 9, tzinfo=UTC)
    assert slack_date(moment) == "<!date^1796374800^{date_short_pretty} at {time}|2026-12-04 09:00 UTC>"


@pytest.mark.parametrize(("name", "step", "snooze"), [("ci_loader", "7d", "1 day"), ("<!channel> & co", "7d", "1 day"),
                                                      ("k" * 400, "7d", "1 day"), ("soon", "snooze-1796374800", None)])
def test_the_fast_reminder_builder_matches_the_models(name: str, step: str, snooze: str | None) -> None:
    args = dict(lifetime_hours=720, snooze_words=snooze)
    fast = reminder_message(name, NOW + timedelta(days=3), NOW, step, **args)  # type: ignore[arg-type]
    reference = reminder_message_from_models(name, NOW + timedelta(days=3), NOW, step, **args)  # type: ignore[arg-type]
    assert fast == reference
    check_message(fast)
