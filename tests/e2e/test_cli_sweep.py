"""`apikey-bot sweep` from cron: a recipient Slack will never reach is reported, not a failure for ever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.e2e.harness import process_env
from tests.e2e.test_cli import run


def test_a_recipient_slack_refuses_for_good_is_reported_once_and_cron_exits_0(
    tmp_path: Path, slack: SlackFake, heimdall: HeimdallEmulator,
) -> None:
    # a real process on the real clock: every hour and day is a working one, so the test holds at any time
    heimdall.add_token("alice", "soon", expiration=datetime.now(UTC) + timedelta(hours=20))
    slack.fail("chat.postMessage", "messages_tab_disabled")
    env = process_env(slack, heimdall, "cli-secret", WORKING_HOURS="00:00-24:00", WORKING_DAYS="mon-sun",
                      DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/bot.db")
    first = run("sweep", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "undeliverable (not tried again before the next step): 1 (1 messages_tab_disabled)" in first.stdout
    assert "failures: 0" in first.stdout
    second = run("sweep", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(slack.calls_to("chat.postMessage")) == 1  # not tried again on every run
