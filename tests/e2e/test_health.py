from __future__ import annotations

from pathlib import Path

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import DROP, SlackFake
from tests.conftest import FakeClock
from tests.e2e.harness import make_settings, running_bot, text_of


def test_health_ready_and_metrics(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                  tmp_path: Path) -> None:
    heimdall.fail_next(1000, 503, match="GET /heimdall/api/v1/users")  # DataOS down at start-up
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"))
    with running_bot(settings, clock, slack) as (_server, user):
        assert user.http.get("/healthz").json() == {"status": "ok"}
        user.command("whoami")  # it asks Slack who the bot is, if the start-up check has not yet been answered
        assert "directory is unavailable" in text_of(slack.wait_for("response_url")[0])
        r = user.http.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"ready": False, "checks": {"database": "ok", "dataos_directory": "not loaded yet",
                                                      "slack_token": "ok"}}
        heimdall.faults.clear()  # DataOS is back: the next request loads the directory
        user.command("whoami")
        assert "`alice`" in text_of(slack.wait_for("response_url", 2)[1])
        r = user.http.get("/readyz")
        assert r.status_code == 200 and r.json()["ready"] is True
        metrics = user.http.get("/metrics")
        assert metrics.status_code == 200 and "python_info" in metrics.text


def test_a_slack_token_never_checked_is_not_called_ok(slack: SlackFake, heimdall: HeimdallEmulator,
                                                     clock: FakeClock, tmp_path: Path) -> None:
    slack.fail("auth.test", status=DROP)  # Slack cannot be reached when the bot starts
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"))
    with running_bot(settings, clock, slack) as (server, user):
        assert slack.wait_for("auth.test")[0].status == 599  # the start-up check was cut off
        server.call(server.runtime.directory.ensure_loaded())  # DataOS is there: only the token is in doubt
        r = user.http.get("/readyz")
        # Nothing is known of the token: not "ok", and not a reason to be unready (Slack's requests come in).
        assert r.json() == {"ready": True, "checks": {"database": "ok", "dataos_directory": "ok",
                                                     "slack_token": "not checked"}}
        assert r.status_code == 200
        user.command("whoami")  # Slack answers now: the token is known to work
        assert "`alice`" in text_of(slack.wait_for("response_url")[0])
        assert user.http.get("/readyz").json()["checks"]["slack_token"] == "ok"
