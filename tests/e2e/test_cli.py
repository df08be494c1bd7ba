"""The `apikey-bot` command as a person runs it: a real process, real HTTP, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.e2e.harness import free_port, process_env, signed_command, start_bot_process

ROOT = Path(__file__).resolve().parents[2]
BASE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin"), "PYTHONUNBUFFERED": "1"}


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=60,
                          env={**BASE_ENV, **(env or {})}, cwd=cwd)


def test_help_lists_commands() -> None:
    out = run("--help").stdout
    assert "serve" in out and "manifest" in out


def test_missing_setting_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = run("serve", env={"SLACK_BOT_TOKEN": "xoxb-1", "DATAOS_APIKEY": "a2V5"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: HEIMDALL_URL is missing; expected the Heimdall base URL, "
        "e.g. https://dataos.example.com/heimdall"
    )


def test_malformed_setting_names_it(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "DATAOS_APIKEY": "a2V5", "HEIMDALL_URL": "https://d.example/heimdall",
           "PORT": "eighty"}
    result = run("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "PORT is invalid" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_http_mode_needs_signing_secret_and_socket_mode_needs_app_token(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "DATAOS_APIKEY": "a2V5", "HEIMDALL_URL": "https://d.example/heimdall"}
    result = run("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "SLACK_SIGNING_SECRET is missing" in result.stderr
    result = run("serve", "--socket-mode", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "SLACK_APP_TOKEN is missing" in result.stderr


def test_serve_answers_slack_and_stops_on_sigterm(tmp_path: Path, slack: SlackFake,
                                                  heimdall: HeimdallEmulator) -> None:
    port = free_port()
    env = process_env(slack, heimdall, "cli-secret", LOG_FORMAT="json")
    startup_log: list[str] = []
    proc = start_bot_process(env, tmp_path, port, startup_log=startup_log)
    try:
        # A clean start says it started and nothing louder (Bolt's "`token` will be unused" is dropped:
        # SLACK_BOT_TOKEN is in the environment, as in every deployment).
        assert "SLACK_BOT_TOKEN" in env
        assert {json.loads(line)["level"] for line in startup_log} == {"info"}, startup_log
        assert (tmp_path / "data" / "apikey-bot.db").exists()  # the embedded SQLite default
        r = signed_command(port, "cli-secret", text="help", user_id="U0ALICE", response_url=slack.response_url())
        assert r.status_code == 200 and "/apikey create" in r.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=30)[1]
    # uvicorn re-raises the signal after a clean shutdown, so the exit status says "terminated"
    assert proc.returncode in (0, -signal.SIGTERM)
    assert "apikey-bot stopped" in rest


def test_an_unusable_database_is_named_in_one_line(tmp_path: Path, slack: SlackFake,
                                                   heimdall: HeimdallEmulator) -> None:
    closed = free_port()  # nothing listens there
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    cases = [
        (f"postgresql+asyncpg://bot:hunter2@127.0.0.1:{closed}/bot",
         f"the database postgresql+asyncpg://bot:***@127.0.0.1:{closed}/bot cannot be used: ConnectionRefusedError"),
        (f"sqlite+aiosqlite:///{not_a_folder}/bot.db",
         f"the SQLite database sqlite+aiosqlite:///{not_a_folder}/bot.db cannot be opened or created: FileExistsError"),
    ]
    for url, reason in cases:
        env = process_env(slack, heimdall, "cli-secret", DATABASE_URL=url)
        served = run("serve", "--host", "127.0.0.1", "--port", str(free_port()), env=env, cwd=tmp_path)
        swept = run("sweep", env=env, cwd=tmp_path)
        assert served.returncode == 1 and f"apikey-bot cannot start: {reason}" in served.stderr, served.stderr
        assert swept.returncode == 1 and f"sweep failed: {reason}" in swept.stderr, swept.stderr
        for result in (served, swept):
            assert "Traceback" not in result.stderr and "Unclosed" not in result.stderr
            assert "hunter2" not in result.stderr


def test_doctor_on_a_copy_of_env_example_names_each_example_value(tmp_path: Path) -> None:
    """The first hour: `cp .env.example .env`, then `apikey-bot doctor` before filling it in."""
    example = (ROOT / ".env.example").read_text()
    (tmp_path / ".env").write_text(example)
    result = run("doctor", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    failed = [line.split(";")[0] for line in lines if line.startswith("✘")]
    assert failed == [f"✘ configuration: {name} still holds the example value from .env.example"
                      for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "HEIMDALL_URL", "DATAOS_APIKEY")]
    assert "! Slack auth.test: not checked while SLACK_BOT_TOKEN holds the example value" in lines
    assert "! DataOS key: not checked while HEIMDALL_URL and DATAOS_APIKEY hold the example value" in lines
    assert any(line.startswith("! admins: ADMIN_SLACK_USER_IDS is not set") and "Copy member ID" in line
               for line in lines)
    assert any(line.startswith("! audit channel: AUDIT_CHANNEL is not set") and "channel ID is at the bottom" in line
               for line in lines)
    assert lines[-1] == "4 problems found."
    # Uncommented as they are, the example admins and audit channel are named too.
    (tmp_path / ".env").write_text(example.replace("# ADMIN_SLACK_USER_IDS=", "ADMIN_SLACK_USER_IDS=")
                                   .replace("# AUDIT_CHANNEL=", "AUDIT_CHANNEL="))
    lines = run("doctor", cwd=tmp_path).stdout.splitlines()
    assert "✘ configuration: ADMIN_SLACK_USER_IDS still holds the example value from .env.example; set it to your " \
           "platform admins' member ids, comma-separated (in Slack: open the person's profile, click ⋮ More, then " \
           "Copy member ID)" in lines
    assert any(line.startswith("✘ configuration: AUDIT_CHANNEL still holds the example value") for line in lines)
    assert lines[-1] == "6 problems found."


def test_manifest_without_url_says_it_used_a_placeholder(tmp_path: Path) -> None:
    plain = run("manifest", cwd=tmp_path)
    assert plain.returncode == 0 and "https://apikey-bot.example.com/slack/events" in plain.stdout
    assert plain.stderr.strip() == (
        "apikey-bot manifest: no --url given, so its URLs use the placeholder https://apikey-bot.example.com; "
        "give your bot's public URL with --url https://… (or use --socket-mode)")
    for args in (("--url", "https://bot.acme.io"), ("--socket-mode",)):
        filled = run("manifest", *args, cwd=tmp_path)
        assert filled.returncode == 0 and filled.stderr == "" and "example.com" not in filled.stdout
