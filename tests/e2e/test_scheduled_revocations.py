"""A revocation scheduled by Renew acts on exactly the key it was scheduled for.

Each test drives the bot over HTTP against the Slack and DataOS stand-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.reminders.sweep import Sweeper
from bot.store.schema import ScheduledRevocation
from tests.e2e.conftest import Bot
from tests.e2e.harness import (
    audit_actions,
    create_values,
    table_rows,
    text_of,
    view_id_of,
)

ADMIN = "U0ADMIN"
AUDIT = "C0AUDIT"
WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN, "audit_channel": AUDIT, "renew_grace": "24h"}


# ---- 2. a scheduled revoke must not delete a newer key of the same name -----------------------------


def test_scheduled_revoke_leaves_a_new_key_with_the_old_name_alone(bot: Bot) -> None:
    bot.clock._now = WED_1430
    bot.heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + timedelta(days=5))
    bot.server.call(Sweeper(bot.runtime).run())
    dm = next(c for c in bot.slack.delivered("chat.postMessage") if "ci_loader" in text_of(c))
    renew = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "reminder_renew")
    bot.user.click("reminder_renew", renew["value"], channel=dm.result["channel"], message_ts=dm.result["ts"],
                   ephemeral=False)
    opened = bot.slack.wait_for("views.open")[0]
    values = create_values(name="ci_loader_v2", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "in:24"}}}
    bot.user.submit(view_id_of(opened), values)
    bot.slack.wait_for("views.update", where=lambda c: "will be revoked" in text_of(c))
    assert [r["key_expiration"] is not None for r in table_rows(bot, ScheduledRevocation)] == [True]
    # Meanwhile the person revokes the old key and makes a new one under the same name.
    bot.heimdall.remove_token("alice", "ci_loader")
    newer = bot.heimdall.add_token("alice", "ci_loader", hours=24 * 60)
    bot.clock.advance(hours=24)
    summary = bot.server.call(Sweeper(bot.runtime).run())
    assert bot.heimdall.tokens["alice"]["ci_loader"].apikey == newer.apikey  # still there
    assert summary.revoked_later == 0 and summary.skipped["scheduled revoke: key changed"] == 1
    assert ("revoke", "skipped: key changed", "ci_loader") in audit_actions(bot)
    assert [r["state"] for r in table_rows(bot, ScheduledRevocation)] == ["skipped"]
    bot.clock.advance(hours=24)  # the schedule has ended: nothing is tried again
    bot.server.call(Sweeper(bot.runtime).run())
    assert "ci_loader" in bot.heimdall.tokens["alice"]
