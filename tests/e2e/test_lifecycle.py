"""The app uninstalled, its tokens revoked, a sweep refused with a dead token, and Slack dropping events:
noticed, over real HTTP, where an operator and the people would see it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.reminders.summary import SweepFailed, SweepSummary
from bot.reminders.sweep import Sweeper
from tests.e2e.conftest import Bot

WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"sweep_concurrency": 1}  # one DM at a time: "stopped at the first refusal" is exact


@pytest.fixture(autouse=True)
def wednesday(clock: Any) -> None:
    clock._now = WED_1430


def sweep(bot: Bot) -> SweepSummary:
    return bot.server.call(Sweeper(bot.runtime).run())


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def metric(bot: Bot, name: str) -> float:
    for line in bot.user.http.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize(("event", "named"), [
    ({"type": "app_uninstalled"}, "app_uninstalled"),
    ({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT0001"]}}, "tokens_revoked"),
])
def test_uninstall_or_revoked_tokens_stop_reminders_and_readiness(bot: Bot, caplog: pytest.LogCaptureFixture,
                                                                   event: dict[str, Any], named: str) -> None:
    caplog.set_level(logging.INFO)
    before = metric(bot, f'apikey_bot_slack_token_lost_total{{cause="{named}"}}')
    assert bot.user.http.get("/readyz").status_code == 200
    response = bot.user.event(event, event_id=f"Ev{named}")
    assert response.status_code == 200  # subscribed and handled: not a 404 Slack would retry and then disable
    ready = bot.user.http.get("/readyz")
    assert ready.status_code == 503 and named in ready.json()["checks"]["slack_token"]
    bot.heimdall.add_token("alice", "soon", expiration=WED_1430 + timedelta(hours=20))
    with pytest.raises(SweepFailed, match=named):
        sweep(bot)
    assert bot.slack.calls_to("chat.postMessage") == []  # nothing is tried with a dead token
    assert len(errors(caplog)) == 1 and named in errors(caplog)[0]
    assert metric(bot, f'apikey_bot_slack_token_lost_total{{cause="{named}"}}') == before + 1


def test_revoked_user_tokens_only_change_nothing(bot: Bot) -> None:
    response = bot.user.event({"type": "tokens_revoked", "tokens": {"oauth": ["U0ALICE"]}}, event_id="EvUser")
    assert response.status_code == 200
    assert bot.user.http.get("/readyz").status_code == 200


def test_a_sweep_refused_with_a_dead_token_stops_and_says_so_once(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for name in ("a", "b", "c"):
        bot.heimdall.add_token("alice", name, expiration=WED_1430 + timedelta(hours=20))
    bot.slack.fail("chat.postMessage", "invalid_auth", times=100)
    bot.slack.fail("auth.test", "invalid_auth", times=100)
    with pytest.raises(SweepFailed, match="invalid_auth"):
        sweep(bot)
    assert len(bot.slack.calls_to("chat.postMessage")) == 1  # stopped at the first refusal, not once per DM
    ready = bot.user.http.get("/readyz")
    assert ready.status_code == 503 and "invalid_auth" in ready.json()["checks"]["slack_token"]
    with pytest.raises(SweepFailed):
        sweep(bot)
    assert len(bot.slack.calls_to("chat.postMessage")) == 1
    assert len(errors(caplog)) == 1 and "invalid_auth" in errors(caplog)[0]


def test_app_rate_limited_is_answered_with_a_warning(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    body = json.dumps({"token": "legacy", "type": "app_rate_limited", "team_id": "T0123",
                       "minute_rate_limited": 1518467820, "api_app_id": "A0ABC"})
    response = bot.user.post(body, "application/json")
    assert response.status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("app_rate_limited" in w and "1518467820" in w for w in warnings)
    assert errors(caplog) == []
    assert bot.user.http.get("/readyz").status_code == 200


@pytest.mark.parametrize("at_start", [False, True], ids=["refused on a DM", "refused at start-up"])
def test_a_scheduled_sweep_with_a_dead_token_logs_one_error(slack: Any, heimdall: Any, clock: Any, tmp_path: Any,
                                                            caplog: pytest.LogCaptureFixture, at_start: bool) -> None:
    import asyncio

    from tests.e2e.harness import make_settings, running_bot

    caplog.set_level(logging.INFO)
    heimdall.add_token("alice", "soon", expiration=WED_1430 + timedelta(hours=20))
    slack.fail("chat.postMessage", "token_revoked", times=100)
    if at_start:
        slack.fail("auth.test", "token_revoked", times=100)
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"), reminders_enabled=True,
                             working_days="mon-sun", working_hours="00:00-24:00")
    with running_bot(settings, clock, slack) as (server, user):
        if at_start:
            slack.wait_for("auth.test")
            check = server.runtime._slack_check
            assert check is not None

            async def checked() -> None:
                await check

            server.call(checked())
        else:
            slack.wait_for("chat.postMessage")
            server.call(asyncio.wait_for(server.runtime._sweeping.none.wait(), 10))
        ready = user.http.get("/readyz")
        assert ready.status_code == 503 and "token_revoked" in ready.json()["checks"]["slack_token"]
    assert len(slack.calls_to("chat.postMessage")) <= 1
    assert len(errors(caplog)) == 1 and "token_revoked" in errors(caplog)[0]
