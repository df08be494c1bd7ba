from __future__ import annotations

from pathlib import Path

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.conftest import FakeClock
from tests.e2e.harness import make_settings, running_bot, text_of


def test_health_ready_and_metrics(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                  tmp_path: Path) -> None:
    heimdall.fail_next(1000, 503, match="GET /heimdall/api/v1/users")  # DataOS down at start-up
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"))
    with running_bot(settings, clock, slack) as (_server, user):
        assert user.http.get("/healthz").json() == {"status": "ok"}
        r = user.http.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"ready": False, "checks": {"database": "ok", "dataos_directory": "not loaded yet",
                                                      "slack_token": "ok"}}
        user.command("whoami")
        assert "directory is unavailable" in text_of(slack.wait_for("response_url")[0])
        heimdall.faults.clear()  # DataOS is back: the next request loads the directory
        user.command("whoami")
        assert "`alice`" in text_of(slack.wait_for("response_url", 2)[1])
        r = user.http.get("/readyz")
        assert r.status_code == 200 and r.json()["ready"] is True
        metrics = user.http.get("/metrics")
        assert metrics.status_code == 200 and "python_info" in metrics.text
