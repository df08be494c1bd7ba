"""Operating the bot: Prometheus metrics, request ids in logs, graceful shutdown on SIGTERM."""

from __future__ import annotations

import io
import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.logs import configure_logging
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.reminders.sweep import Sweeper
from tests.e2e.conftest import Bot
from tests.e2e.harness import (
    create_values,
    free_port,
    process_env,
    signed_command,
    start_bot_process,
    text_of,
    view_id_of,
)


def samples(bot: Bot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = bot.user.http.get("/metrics").text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(snapshot: dict[tuple[str, tuple[tuple[str, str], ...]], float], metric: str, **labels: str) -> float:
    return snapshot.get((metric, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_dataos_calls_errors_rate_limits_and_sweeps(bot: Bot) -> None:
    before = samples(bot)
    bot.heimdall.add_token("alice", "k1", hours=48)
    bot.user.command("list")
    bot.slack.wait_for("response_url")
    bot.heimdall.fail_next(1, 403, match="/tokens")
    bot.user.command("list")
    bot.slack.wait_for("response_url", 2)
    bot.user.command("bogus")
    bot.slack.fail("views.open", "ratelimited", status=429, retry_after=1)
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name="metered"))
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    bot.server.call(Sweeper(bot.runtime).run())
    assert bot.server.call(bot.runtime.drain(10))  # every listener has finished (and counted itself)
    after = samples(bot)

    def delta(metric: str, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    assert delta("apikey_bot_requests_total", kind="command", name="list", outcome="ok") == 2
    assert delta("apikey_bot_requests_total", kind="command", name="create", outcome="ok") == 1
    assert delta("apikey_bot_requests_total", kind="view", name="create", outcome="ok") == 1
    assert delta("apikey_bot_dataos_request_seconds_count", method="GET", route="/users/{id}/tokens") >= 2
    assert delta("apikey_bot_dataos_request_seconds_count", method="POST", route="/users/{id}/tokens") == 1
    assert delta("apikey_bot_dataos_errors_total", method="GET", route="/users/{id}/tokens", status="403") == 1
    assert delta("apikey_bot_slack_rate_limit_waits_total", method="views.open") == 1
    assert delta("apikey_bot_sweep_seconds_count") == 1
    assert delta("apikey_bot_reminders_total", outcome="skipped") >= 1
    # no user, key or secret ever becomes a label
    text = bot.user.http.get("/metrics").text
    assert "alice" not in text and "k1" not in text and "metered" not in text


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("json", "DEBUG", stream=stream)
    yield stream
    configure_logging("console", "WARNING", stream=io.StringIO())


def test_json_logs_carry_request_and_correlation_ids(bot: Bot, json_logs: io.StringIO) -> None:
    bot.user.command("whoami")
    bot.slack.wait_for("response_url")
    bot.heimdall.fail_next(1, 500, match="/tokens")
    bot.user.command("list")
    bot.slack.wait_for("response_url", 2)
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    dataos = [r for r in records if r["logger"] == "bot.dataos.client" and "/tokens" in r["msg"]]
    assert dataos, records
    failed = dataos[0]
    assert failed["level"] == "warning" and "-> 500" in failed["msg"]
    assert len(failed["correlation_id"]) == 36 and len(failed["request_id"]) == 12
    assert failed["correlation_id"] == bot.heimdall.calls_to("GET", "/tokens")[0].headers["dataos-correlation-id"]


def test_sigterm_finishes_work_in_flight_then_stops(tmp_path: Path, slack: SlackFake,
                                                    heimdall: HeimdallEmulator) -> None:
    port = free_port()
    env = process_env(slack, heimdall, "op-secret", LOG_FORMAT="json")
    heimdall.add_token("alice", "slow_to_list", hours=48)
    proc = start_bot_process(env, tmp_path, port)
    try:
        # DataOS takes 1.5 s to list keys: the command is acknowledged at once, the work is still running
        heimdall.fail_next(1, None, delay=1.5, match="/users/alice/tokens")
        r = signed_command(port, "op-secret", text="list", user_id="U0ALICE", response_url=slack.response_url())
        assert r.status_code == 200
        heimdall_calls = lambda: [c for c in heimdall.calls if "/users/alice/tokens" in c.path]  # noqa: E731
        slack.wait_for("users.info")  # the listener is at work
        proc.send_signal(signal.SIGTERM)
    finally:
        rest = proc.communicate(timeout=60)[1]
    # the work in flight was finished, not dropped (after "Looking up your keys…", if it took 1.5 s by then)
    assert slack.wait_for("response_url", where=lambda c: "slow_to_list" in text_of(c))
    assert heimdall_calls()
    assert "apikey-bot stopped" in rest
    assert proc.returncode in (0, -signal.SIGTERM)
    stopped_at = rest.index("apikey-bot stopped")
    assert "Traceback" not in rest[:stopped_at]
    logging.getLogger(__name__).debug("shutdown log: %s", rest[-500:])
