"""The audit channel at Slack's pace: a burst waits for the channel's next second and goes out as one
message; nothing is dropped, and what Slack refuses is logged with Slack's reason."""

from __future__ import annotations

import asyncio
import logging

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import AuditTrail
from bot.playground.slack import SlackFake
from bot.store import Audit
from tests.conftest import FakeClock
from tests.repositories import Repositories

AUDIT = "C0AUDIT"


async def test_a_burst_waits_for_the_next_second_and_goes_out_as_one_message(
        store: Repositories, slack: SlackFake, clock: FakeClock) -> None:
    waits: list[float] = []
    second_passed = asyncio.Event()

    async def sleep(seconds: float) -> None:  # Slack's second passes when the test says so
        waits.append(seconds)
        await second_passed.wait()
        clock.advance(seconds=seconds)

    client = AsyncWebClient(token=slack.token, base_url=slack.api_url)
    trail = AuditTrail(store.audit_log, client, AUDIT, sleep=sleep, monotonic=clock.monotonic)
    for i in range(30):
        await trail.record(Audit(at=clock.now(), actor_slack_id="U0ADMIN", action="admin revoke",
                                 outcome="ok", dataos_user_id="bob", key_name=f"key_{i:02d}"))
    await asyncio.to_thread(slack.wait_for, "chat.postMessage")
    second_passed.set()
    await trail.flush()
    posts = [c.params["text"] for c in slack.delivered("chat.postMessage")]
    assert len(posts) == 2 and waits == [1.0]
    lines = "\n".join(posts).splitlines()
    assert [line.split("`")[1] for line in lines] == [f"key_{i:02d}" for i in range(30)]
    assert len(await store.audit_log.recent_audit(since=clock.now().replace(year=2000), actor_slack_id=None,
                                                  limit=100)) == 30


async def test_a_refused_post_is_logged_with_slacks_reason(store: Repositories, slack: SlackFake, clock: FakeClock,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    slack.add_channel(AUDIT, "apikey-audit", member=False)
    client = AsyncWebClient(token=slack.token, base_url=slack.api_url)
    trail = AuditTrail(store.audit_log, client, AUDIT, monotonic=clock.monotonic)
    await trail.record(Audit(at=clock.now(), actor_slack_id="U0ALICE", action="create", outcome="ok",
                             dataos_user_id="alice", key_name="k"))
    await trail.flush()
    [line] = [r.getMessage() for r in caplog.records if "audit channel" in r.getMessage()]
    assert "not_in_channel" in line and "/invite @apikey-bot" in line and "1 line(s)" in line
