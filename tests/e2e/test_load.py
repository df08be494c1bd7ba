"""Load: 200 concurrent slash commands and 200 concurrent form submissions against a running bot.

No errors, every key delivered exactly once, and the bot's memory back near its idle level afterwards.
How fast the acknowledgements came is printed, not asserted: on a loaded machine it measures the machine
(bench/p1_ack.py measures it where it means something). Nothing here asserts wall time.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlencode

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.e2e.harness import create_values

SECRET = "load-secret"
N = 200
SLACK_DEADLINE = 3.0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


ROOT = Path(__file__).resolve().parents[2]


def fire(url: str, bodies: list[str], tmp: Path, name: str) -> tuple[list[float], list[int]]:
    """All requests at once, from a separate process (bench/loadgen.py), so the fakes do not slow the client."""
    spec = tmp / f"{name}.json"
    spec.write_text(json.dumps({"url": url, "secret": SECRET, "requests": [{"body": b} for b in bodies]}))
    out = subprocess.run([sys.executable, "-m", "bench.loadgen", str(spec)], capture_output=True, text=True,
                         cwd=ROOT, timeout=300, check=True).stdout
    result = json.loads(out)
    return result["seconds"], result["statuses"]


def burst(url: str, slack: SlackFake, users: list[str], tag: str, tmp: Path) -> tuple[list[float], list[int]]:
    """Each user runs `/apikey create`, all at once; then all submit their forms at once."""
    commands = [urlencode({"command": "/apikey", "text": "create", "user_id": u, "team_id": "T0123",
                           "channel_id": "C1", "response_url": slack.response_url(), "trigger_id": f"{tag}.{u}"})
                for u in users]
    times, statuses = fire(url, commands, tmp, f"{tag}-commands")
    triggers = {f"{tag}.{u}" for u in users}
    opened = slack.wait_for("views.open", len(users), where=lambda c: c.params.get("trigger_id") in triggers,
                            timeout=60)
    by_user = {c.params["trigger_id"].split(".", 1)[1]: c.result["view"]["id"] for c in opened}
    submissions = []
    for u in users:
        view = dict(slack.views[by_user[u]])
        view["state"] = {"values": create_values(name=f"{tag}_{u.lower()}", preset="720h")}
        data = {"type": "view_submission", "user": {"id": u}, "view": view, "trigger_id": "t"}
        submissions.append("payload=" + quote(json.dumps(data)))
    more_times, more_statuses = fire(url, submissions, tmp, f"{tag}-submissions")
    return times + more_times, statuses + more_statuses


def test_200_commands_and_200_submissions(tmp_path: Path, slack: SlackFake, heimdall: HeimdallEmulator) -> None:
    users = []
    for i in range(N):
        heimdall.add_user(f"load{i:03d}", f"load{i:03d}@example.com")
        slack.add_user(f"UL{i:03d}", f"load{i:03d}@example.com", tz="UTC", tz_offset=0)
        users.append(f"UL{i:03d}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "SLACK_BOT_TOKEN": slack.token, "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": slack.api_url, "HEIMDALL_URL": heimdall.url,
           "DATAOS_APIKEY": heimdall.operator_key,  # type: ignore[attr-defined]
           "REMINDERS_ENABLED": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    started = drain_stderr(proc)
    url = f"http://127.0.0.1:{port}"
    try:
        assert started.wait(timeout=30), "the bot did not start"
        _, warm_status = burst(url, slack, users[:20], "warm", tmp_path)
        slack.wait_for("views.update", 20, where=lambda c: "created" in json.dumps(c.params), timeout=60)
        gc.collect()
        idle = rss_mb(proc.pid)
        times, statuses = burst(url, slack, users, "load", tmp_path)
        created = slack.wait_for("views.update", 20 + N, where=lambda c: "created" in json.dumps(c.params),
                                 timeout=120)
        assert len(created) == 20 + N
        after = rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert set(warm_status) == {200} and set(statuses) == {200}
    cmd, sub = sorted(times[:N]), sorted(times[N:])
    print(f"\ncommands p50 {cmd[N // 2]:.2f} max {cmd[-1]:.2f}; submissions p50 {sub[N // 2]:.2f} max {sub[-1]:.2f}"
          f" (Slack waits {SLACK_DEADLINE:.0f} s)")
    # every key delivered exactly once, each to its owner
    delivered = Counter((c.params["user"], c.params["text"]) for c in slack.delivered("chat.postEphemeral"))
    assert len(delivered) == 20 + N and set(delivered.values()) == {1}
    made = sum(1 for uid in heimdall.tokens if uid.startswith("load") for _ in heimdall.tokens[uid])
    assert made == 20 + N
    assert after <= idle * 1.3 + 15, f"idle {idle:.0f} MB, after the load {after:.0f} MB"
    print(f"\nload: {N} commands + {N} submissions; slowest ack {max(times) * 1000:.0f} ms; "
          f"RSS idle {idle:.0f} MB, after {after:.0f} MB")


def drain_stderr(proc: subprocess.Popen[str]) -> threading.Event:
    """Read the bot's log continuously (a full pipe would stall it); set the event once it has started."""
    started = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "apikey-bot started" in line:
                started.set()

    threading.Thread(target=read, daemon=True).start()
    return started
