"""The listeners are not loaded to start: the bot says it is ready first, then loads them in the background,
and a request that comes sooner loads them itself and is answered as always.

Each case runs in a fresh interpreter (what is loaded is a property of the process), with the real bot
under uvicorn against the Slack and DataOS stand-ins, over HTTP. What is deferred is read from
`bot/slack/surfaces.py`, the one place that imports the listener modules.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Listener modules that start-up loads all the same: the jobs that start with the bot use them (the
#: scheduled revocations of housekeeping redraw the Home tab and tell the people of a link).
NEEDED_TO_START = ["bot.slack.home", "bot.slack.links"]

SCRIPT = r'''
import json, sys, threading
import httpx
import bot.web
bot.web.WARM_UP_AFTER = 600.0  # only what this case does may start the warm-up
from bot import compose
warmed = threading.Event()
original = compose.DeferredListeners.warm_up

async def observed(self):
    await original(self)
    warmed.set()

compose.DeferredListeners.warm_up = observed
from bot.playground.heimdall import HeimdallEmulator, seed_people
from bot.playground.slack import SlackFake
from tests.conftest import FakeClock
from tests.e2e.harness import make_settings, running_bot

case, db, deferred = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
clock = FakeClock()
emu = HeimdallEmulator(clock=clock.now)
emu.operator_key = emu.add_operator()
seed_people(emu, 3)
emu.start()
slack = SlackFake(clock=clock.monotonic)
slack.add_user("U0ALICE", "Alice@Example.com", name="Alice")
slack.add_channel("C0456", "general")
slack.start()
out = {}
with running_bot(make_settings(slack, emu, db), clock, slack) as (server, user):
    out["loaded_at_start"] = sorted(m for m in deferred if m in sys.modules)
    if case == "ready":
        server.call(server.runtime.directory.ensure_loaded())  # what readiness waits for
        out["readyz"] = httpx.get(server.url + "/readyz", timeout=10).status_code
        out["warmed"] = warmed.wait(timeout=60)
    answer = user.command("help")
    out["status"], out["answer"] = answer.status_code, answer.text
    out["missing_after"] = sorted(m for m in deferred if m not in sys.modules)
    out["warmed_by_request"] = warmed.is_set()
emu.stop()
slack.stop()
print(json.dumps(out))
'''


def deferred_modules() -> list[str]:
    """Every module `bot.slack.surfaces` imports from bot.slack, itself, and the guard's shapes."""
    names = {"bot.slack.surfaces", "bot.slack.shapes"}
    for node in ast.walk(ast.parse((ROOT / "bot/slack/surfaces.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot.slack"):
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return sorted(names)


def run_case(case: str, tmp_path: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, case, str(tmp_path / "bot.db"), json.dumps(deferred_modules())],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_every_listener_module_is_registered_by_the_surfaces_module() -> None:
    """A listener module that `bot.slack.surfaces` forgot would never be registered at all."""
    with_register = set()
    for path in (ROOT / "bot/slack").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "register" and [a.arg for a in node.args.args] == [
                    "app", "rt"]:
                with_register.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert len(with_register) > 10
    assert with_register <= set(deferred_modules())
    called = {n.func.value.id for n in ast.walk(ast.parse((ROOT / "bot/slack/surfaces.py").read_text()))
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "register"
              and isinstance(n.func.value, ast.Name)}
    imported = {alias.asname or alias.name for n in ast.walk(ast.parse((ROOT / "bot/slack/surfaces.py").read_text()))
                if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("bot.slack")
                for alias in n.names}
    assert called == imported


@pytest.mark.parametrize("case", ["request", "ready"])
def test_listeners_load_after_start_and_every_request_is_answered(case: str, tmp_path: Path) -> None:
    out = run_case(case, tmp_path)
    assert out["loaded_at_start"] == NEEDED_TO_START  # none of the others was loaded to start
    if case == "ready":
        assert out["readyz"] == 200
        assert out["warmed"] is True  # ready first, then the warm-up loaded them
    else:
        assert out["warmed_by_request"] is False  # the request loaded them itself
    assert out["status"] == 200
    assert "/apikey list" in str(out["answer"])  # the help, as always
    assert out["missing_after"] == []
