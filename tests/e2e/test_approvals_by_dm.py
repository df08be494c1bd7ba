"""Without APPROVAL_CHANNEL (issue #28), a request goes to each approver by DM, and every one of those
messages is updated in place when someone decides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.playground.heimdall import HeimdallEmulator
from tests.e2e.conftest import Bot
from tests.e2e.harness import text_of
from tests.e2e.test_approvals import CAROL, GRACE, approval_settings, ask, keys_of, press, updates_of
from tests.e2e.test_approvals import world as world  # the approval tests' people, channels and groups


@pytest.fixture
def bot_settings(tmp_path: Path, heimdall: HeimdallEmulator) -> dict[str, Any]:
    return {**approval_settings(tmp_path, heimdall), "approval_channel": None}


def test_without_an_approval_channel_each_approver_gets_a_dm_and_each_is_updated(bot: Bot) -> None:
    view_id, _ = ask(bot)
    assert "I sent it to 2 approvers by DM" in json.dumps(bot.slack.views[view_id])
    dms = {c.params["channel"]: c for c in bot.slack.delivered("chat.postMessage")
           if c.params.get("channel") in (GRACE, CAROL) and "etl_loader" in text_of(c)}
    assert set(dms) == {GRACE, CAROL}
    assert "Approved" in press(bot, dms[CAROL], "approval_approve", CAROL)
    assert "etl_loader" in keys_of(bot, "alice")
    for dm in dms.values():
        assert any("Approved by <@U0CAROL>" in u for u in updates_of(bot, dm))
