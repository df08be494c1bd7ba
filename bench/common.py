"""Shared pieces of the benchmarks: the fakes, a bot process, timing and memory readings, reporting."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.playground.heimdall import HeimdallEmulator  # noqa: E402
from bot.playground.slack import SlackFake  # noqa: E402

SIGNING_SECRET = "bench-signing-secret"


def machine() -> str:
    cpus = os.cpu_count()
    return f"{platform.machine()}, {cpus} cores, Python {platform.python_version()}, {platform.system()}"


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fakes(users: int = 3, *, latency: float = 0.0) -> tuple[HeimdallEmulator, SlackFake]:
    """The Heimdall emulator and the Slack fake, with `users` matching people, started."""
    emu = HeimdallEmulator(latency=latency, record_calls=False)
    emu.operator_key = emu.add_operator()  # type: ignore[attr-defined]
    slack = SlackFake()
    for i in range(users):
        uid = f"user{i:05d}"
        emu.add_user(uid, f"{uid}@example.com")
        slack.add_user(f"U{i:07d}", f"{uid}@example.com", tz="UTC", tz_offset=0)
    emu.start()
    slack.start()
    return emu, slack


def bot_env(emu: HeimdallEmulator, slack: SlackFake, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin"), "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.api_url, "HEIMDALL_URL": emu.url,
        "DATAOS_APIKEY": emu.operator_key,  # type: ignore[attr-defined]
        "REMINDERS_ENABLED": "false", "LOG_LEVEL": "WARNING", **extra,
    }


@contextmanager
def process(args: list[str], env: dict[str, str], cwd: Path, ready_url: str | None = None,
            timeout: float = 30, cpu: list[float] | None = None) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """Start a server process; yield it and the seconds it took until `ready_url` answered 200. With `cpu`,
    the CPU seconds the process (all its threads) had used by then are appended to it (`cpu_seconds`)."""
    started = time.perf_counter()
    # the server's own log, for when a figure looks wrong
    log = (Path(tempfile.gettempdir()) / f"apikey-bot-bench-{os.getpid()}-{args[2]}.log").open("ab")
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=log, stderr=log)
    took = float("nan")
    try:
        if ready_url is not None:
            deadline = started + timeout
            while time.perf_counter() < deadline:
                try:
                    if httpx.get(ready_url, timeout=1).status_code == 200:
                        took = time.perf_counter() - started
                        if cpu is not None:
                            cpu.append(cpu_seconds(proc.pid))
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.01)  # a benchmark polls; tests never do
            else:
                raise RuntimeError(f"{args} did not become ready")
        yield proc, took
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def serve_bot(env: dict[str, str], cwd: Path, port: int,
              cpu: list[float] | None = None) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    return process([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)], env, cwd,
                   ready_url=f"http://127.0.0.1:{port}/readyz", cpu=cpu)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system, every thread, in ns resolution) a running process has used so far: its
    process CPU clock (clock_getcpuclockid), which Linux lets any process read. Unlike wall time, it hardly
    moves when other processes load the machine (caches and frequency aside). NaN where it cannot be read."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    clock, spec = ctypes.c_int(), _Timespec()
    if libc.clock_getcpuclockid(pid, ctypes.byref(clock)) or libc.clock_gettime(clock, ctypes.byref(spec)):
        return float("nan")
    return spec.tv_sec + spec.tv_nsec / 1e9


def report(title: str, rows: list[tuple[str, str, str, bool | None]]) -> bool:
    """Print a table of (figure, measured, target, met); return whether every target was met."""
    print(f"\n{title}  [{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}]")
    width = max(len(r[0]) for r in rows)
    for name, measured, target, met in rows:
        mark = "" if met is None else ("  ok" if met else "  MISSED")
        print(f"  {name:<{width}}  {measured:>14}   target {target}{mark}")
    return all(r[3] is not False for r in rows)


def drain(pipe: object) -> None:
    def read() -> None:
        for _ in pipe:  # type: ignore[attr-defined]
            pass

    threading.Thread(target=read, daemon=True).start()
