"""P5: one rotation pass over 200 team keys, each due, against the Heimdall emulator (DataOS at 25 ms per
call) and the playground's KV stand-in (or a real `bao server -dev` with --bao), grace 0 so that each
rotation goes all the way (create, write, verify, announce, revoke) in the one pass.

Prints DataOS and store calls per rotation and the wall time next to the ideal: the engine carries
rotations one after another (they are rare and spread over days, and each waits for DataOS), so the ideal
is the DataOS calls times their latency, back to back. No target is asserted by tests; this script only
prints, and exits 1 if a figure misses its target.

    python -m bench.p5_rotation [--teams 200] [--bao]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import report
from bot.app import Runtime
from bot.playground._server import ServerThread
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.playground.vault import KVStandIn
from bot.rotation.engine import RotationEngine
from bot.store import migrate
from bot.store.rotations import Target
from bot.store.teams import Team
from tests.bao import Bao, bao_binary
from tests.conftest import FakeClock
from tests.e2e.harness import make_settings

LATENCY = 0.025
NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
CHANNEL = "C0BENCH"


async def one_pass(teams: int, emu: HeimdallEmulator, slack: SlackFake, addr: str, token: str,
                   tmp: Path) -> tuple[float, int, int, int, int]:
    clock = FakeClock(NOW)
    settings = make_settings(slack, emu, str(tmp / "bench.db"), vault_addr=addr, vault_token=token,
                             vault_allowed_paths=["secret/bench/"], dataos_timeout_seconds=10)

    async def no_wait(_: float) -> None:
        return None

    rt = Runtime(settings, clock=clock.now, monotonic=clock.monotonic, dataos_sleep=no_wait)
    try:
        await migrate(rt.engine)
        for i in range(teams):
            app = f"app-{i:04d}"
            await rt.teams.repo.put(Team(app, CHANNEL, ("U0OWNER",), (), "U0ADMIN", NOW))
            await rt.rotations.put_target(Target(app, "team", f"vault:secret/bench/{app}#apikey", 720, 168, 0, "on",
                                                 None, None, None, "U0ADMIN", NOW), now=NOW)
        dataos_before, store_before = emu.served, rt.vault.calls if rt.vault else 0
        started = time.perf_counter()
        summary = await RotationEngine(rt, worker="bench").run()
        seconds = time.perf_counter() - started
        store_calls = (rt.vault.calls if rt.vault else 0) - store_before
        return seconds, summary.done, summary.failed, emu.served - dataos_before, store_calls
    finally:
        await rt.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=200)
    parser.add_argument("--bao", action="store_true", help="a real `bao server -dev` instead of the stand-in")
    args = parser.parse_args(argv)
    emu = HeimdallEmulator(latency=LATENCY, record_calls=False)
    emu.operator_key = emu.add_operator()  # type: ignore[attr-defined]
    for i in range(args.teams):
        app = f"app-{i:04d}"
        emu.add_user(app, None, type="application", tags=["roles:id:app-user"])
        emu.add_token(app, "loader", expiration=NOW + timedelta(days=3))
    slack = SlackFake()
    slack.add_channel(CHANNEL, "bench")
    emu.start()
    slack.start()
    bao: Bao | None = None
    server: ServerThread | None = None
    try:
        if args.bao and (binary := bao_binary()) is not None:
            bao = Bao(binary).start()
            addr, token, store = bao.addr, bao.root_token, "bao server -dev"
        else:
            standin = KVStandIn()
            server = ServerThread(standin.app)
            addr, token, store = server.start(), standin.root_token, "the KV stand-in"
        with tempfile.TemporaryDirectory() as tmp:
            seconds, done, failed, dataos, store_calls = asyncio.run(
                one_pass(args.teams, emu, slack, addr, token, Path(tmp)))
    finally:
        if bao is not None:
            bao.stop()
        if server is not None:
            server.stop()
        emu.stop()
        slack.stop()
    n = max(1, done)
    ideal = dataos * LATENCY
    posts = len(slack.delivered("chat.postMessage"))
    ok = report(f"P5 rotation: one pass over {args.teams} team keys (DataOS at {LATENCY * 1000:.0f} ms; {store})", [
        ("rotations done", f"{done} of {args.teams}", f"{args.teams}", done == args.teams),
        ("rotations failed", str(failed), "0", failed == 0),
        # (9: the team's DataOS user is asked whether it is still an application user before each rotation)
        ("DataOS calls per rotation", f"{dataos / n:.1f}", "<= 9", dataos / n <= 9),
        ("store calls per rotation", f"{store_calls / n:.1f}", "<= 3", store_calls / n <= 3),
        ("channel posts per rotation", f"{posts / n:.1f}", "1 (+1 update)", posts == done),
        ("wall time", f"{seconds:.1f} s", f"ideal {ideal:.1f} s (DataOS calls x latency, back to back)", None),
        ("wall time / ideal", f"{seconds / ideal if ideal else float('nan'):.2f}", "none (printed)", None),
        ("wall time per rotation", f"{seconds / n * 1000:.0f} ms", "none (printed)", None),
    ])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
