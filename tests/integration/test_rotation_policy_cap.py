"""A rotation's new key stays within the key policy (issue #28 with #27): `every` is capped by the maximum
the policy gives team keys for the admin who set the rotation, asked of `Governance.max_hours`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.bao import Bao
from tests.conftest import FakeClock
from tests.integration.runtimes import WED_1430
from tests.repositories import Repositories
from tests.rotation_helpers import ADMIN, APP, OLD, configure, live_keys, make_runtime, rotate, seed_team, unique_path

POLICY = f"""\
[[rules]]
members = ["{ADMIN}"]
keys = "team"
max_validity = "10d"
"""


async def test_a_rotation_makes_keys_no_longer_than_the_policy_lets_its_admin_have(
        store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp_path: Path,
        bao: Bao) -> None:
    clock._now = WED_1430
    (tmp_path / "policy.toml").write_text(POLICY)
    rt = make_runtime(store, heimdall, slack, clock, tmp_path, bao, policy_file=str(tmp_path / "policy.toml"))
    try:
        seed_team(slack, heimdall)
        await configure(rt, unique_path(), every_hours=30 * 24)  # set by ADMIN: every 30 days
        assert (await rotate(rt)).started == 1
        [new] = [n for n in live_keys(heimdall) if n != OLD]
        lifetime = heimdall.tokens[APP][new].expiration - WED_1430
        assert timedelta(days=9) < lifetime <= timedelta(days=10, hours=1)  # the admin's team rule: 10 days
    finally:
        await rt.aclose()
