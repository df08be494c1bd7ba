"""`apikey-bot serve` when DataOS or Slack cannot be reached: one line says so, and where to look."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.e2e.harness import free_port, process_env, start_bot_process

DOCTOR = "Run `apikey-bot doctor` to check the configuration."


def test_unreachable_dataos_and_slack_are_each_named_in_one_line(tmp_path: Path, slack: SlackFake,
                                                                heimdall: HeimdallEmulator) -> None:
    dataos_port, slack_port = free_port(), free_port()  # nothing listens on either
    # credentials in a URL (a proxy-style set-up) are never written to the log
    env = process_env(slack, heimdall, "cli-secret", HEIMDALL_URL=f"http://bot:hunter2@127.0.0.1:{dataos_port}/heimdall",
                      SLACK_API_URL=f"http://127.0.0.1:{slack_port}/api/")
    log: list[str] = []
    proc = start_bot_process(env, tmp_path, free_port(), startup_log=log)
    both_said = threading.Event()

    def read() -> None:  # until the bot has said both (it goes on retrying DataOS meanwhile)
        assert proc.stderr is not None
        for line in proc.stderr:
            log.append(line)
            if sum(DOCTOR in seen for seen in log) >= 2:
                both_said.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert both_said.wait(timeout=30), "".join(log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    said = [line for line in log if DOCTOR in line]
    dataos = [line for line in said if "DataOS at" in line]
    slack_lines = [line for line in said if "Slack at" in line]
    assert len(dataos) == 1 and len(slack_lines) == 1, said
    assert f"DataOS at http://127.0.0.1:{dataos_port}/heimdall cannot be reached (" in dataos[0]
    assert "the bot keeps retrying" in dataos[0] and "ERROR" in dataos[0]
    assert f"Slack at http://127.0.0.1:{slack_port}/api/ cannot be reached (" in slack_lines[0]
    assert "Traceback" not in "".join(log) and "hunter2" not in "".join(log)
