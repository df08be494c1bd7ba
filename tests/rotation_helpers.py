"""Shared by the rotation tests: a team whose key rotates into a real OpenBao, and what to look at after."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import Runtime
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackCall, SlackFake
from bot.rotation.engine import RotationEngine, RotationSummary
from bot.store.rotations import Rotation, Target
from bot.store.teams import Team
from tests.bao import Bao
from tests.conftest import FakeClock
from tests.integration.runtimes import runtime
from tests.repositories import Repositories

APP, CHANNEL, ADMIN, OWNER = "etl-ingest", "C0DATAENG", "U0DAVE", "U0ALICE"
WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
OLD = "nightly_ingest"


class Killed(Exception):
    """The process dies here: nothing after this point runs (the tests then start a new runtime)."""


def unique_path() -> str:
    return f"pipelines/etl-{uuid.uuid4().hex[:10]}"


def vault_settings(bao: Bao, **extra: Any) -> dict[str, Any]:
    return {"vault_addr": bao.addr, "vault_token": bao.root_token, "vault_allowed_paths": ["secret/pipelines/"],
            "admin_slack_user_ids": [ADMIN], **extra}


def make_runtime(store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp: Path,
                 bao: Bao, **extra: Any) -> Runtime:
    return runtime(store, heimdall, slack, clock, tmp, **vault_settings(bao, **extra))


def seed_team(slack: SlackFake, heimdall: HeimdallEmulator, *, expires_in: timedelta = timedelta(days=5)) -> Any:
    if CHANNEL not in slack.channels:
        slack.add_channel(CHANNEL, "data-eng")
    if APP not in heimdall.users:
        heimdall.add_user(APP, None, name="ETL ingest", type="application", tags=["roles:id:app-user"])
    return heimdall.add_token(APP, OLD, expiration=WED_1430 + expires_in)


async def configure(rt: Runtime, path: str, *, grace: timedelta = timedelta(hours=1), every_hours: int = 720,
                    before_hours: int = 168, field: str = "apikey") -> None:
    """What `/apikey admin team etl-ingest rotate vault:secret/<path>#apikey …` stores (tested on its own)."""
    await rt.teams.repo.put(Team(APP, CHANNEL, (OWNER,), (), ADMIN, rt.clock()))
    await rt.rotations.put_target(Target(APP, "team", f"vault:secret/{path}#{field}", every_hours, before_hours,
                                         int(grace.total_seconds()), "on", None, None, None, ADMIN, rt.clock()),
                                  now=rt.clock())


async def rotate(rt: Runtime, worker: str = "replica-a", observe: Any = None) -> RotationSummary:
    engine = RotationEngine(rt, worker=worker, **({"observe": observe} if observe else {}))
    return await engine.run()


def killer(event: str) -> Any:
    def observe(seen: str, rotation: Rotation) -> None:
        if seen == event:
            raise Killed(event)

    return observe


def live_keys(heimdall: HeimdallEmulator, app: str = APP) -> list[str]:
    return sorted(heimdall.tokens.get(app, {}))


def deletes(heimdall: HeimdallEmulator, name: str, app: str = APP) -> int:
    return sum(1 for c in heimdall.calls if c.method == "DELETE" and c.path.endswith(f"/users/{app}/tokens/{name}"))


def creates(heimdall: HeimdallEmulator, app: str = APP) -> int:
    return sum(1 for c in heimdall.calls if c.method == "POST" and c.path.endswith(f"/users/{app}/tokens")
               and 200 <= c.status < 300)


def channel_posts(slack: SlackFake, channel: str = CHANNEL) -> list[SlackCall]:
    return [c for c in slack.delivered("chat.postMessage") if c.params.get("channel") == channel]
