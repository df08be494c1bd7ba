"""Property-based, stateful: two replicas run reminder passes against the Slack fake and a real SQLite
database that fails at random points (before or after a statement took effect: on claim, on record,
anywhere), Slack loses answers after taking DMs or refuses them, and a process is killed between
batches. Whatever the mix: nobody gets the same step twice, and once the faults stop, every due step
ends sent, undeliverable or unknown. No sleeps: the clock is injected, the database's retry waits take
no time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from bot.app import Runtime
from bot.domain.reminders import KeyFacts, due_step
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.reminders.sweep import Sweeper
from bot.store import create_engine, migrate
from bot.store.ledger import FINAL_STATES
from tests.conftest import FakeClock
from tests.fakes.flaky_store import FlakyStore, When
from tests.integration.runtimes import WED_1430, runtime
from tests.repositories import repositories

HOUR = timedelta(hours=1)
PEOPLE = 6
#: Each person's keys: hours to expiry at the start. Steps of the 30d/7d/1d ladder are due at once and
#: come due over the next hours, so passes after faults have something to send.
KEYS = {"a": 20, "b": 24.5, "c": 26, "d": 24 * 7 + 0.5, "e": 24 * 7 + 3, "f": 24 * 30 + 1}
DB_METHODS = ("claim_reminders", "finish_reminders", "renew_claims", "load_reminder_state", "save_sweep_progress",
              "claim_mark", "set_mark", "links")
SLACK_FAULTS = st.none() | st.sampled_from(["lost", "service_unavailable", "user_not_found", "internal_error"])
DB_FAULTS = st.none() | st.tuples(st.sampled_from(DB_METHODS), st.sampled_from(["before", "after"]), st.integers(1, 6))
SETTINGS = {"working_hours": "00:00-24:00", "working_days": "mon-sun", "sweep_concurrency": 3}


class ProcessKilled(BaseException):
    """The process dies: nothing after this point reaches the database."""


class Replica:
    def __init__(self, machine: ExactlyOnce, name: str) -> None:
        self.name = name
        self.machine = machine
        self.store = repositories(create_engine(f"sqlite+aiosqlite:///{machine.db_path}"))
        self.rt: Runtime = runtime(self.store, machine.heimdall, machine.slack, machine.clock, machine.tmp,
                                   **SETTINGS)
        self.db = FlakyStore().install(self.rt)
        self.kill_at: int | None = None  # die at this claim of the next pass (between batches)
        self.claims = 0
        self.dead = False

    def choose(self, method: str) -> When | None:
        if self.dead:
            return "before"  # a dead process writes nothing more
        if method == "claim_reminders":
            self.claims += 1
            if self.kill_at is not None and self.claims >= self.kill_at:
                self.kill_at = None
                self.dead = True
                raise ProcessKilled
        return None

    async def close(self) -> None:
        await self.rt.aclose()


class ExactlyOnce(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="exactly-once-"))
        self.db_path = self.tmp / "bot.db"
        self.clock = FakeClock(WED_1430)
        self.slack = SlackFake(clock=self.clock.monotonic)
        self.heimdall = HeimdallEmulator(clock=self.clock.now)
        self.heimdall.operator_key = self.heimdall.add_operator()  # type: ignore[attr-defined]
        for i in range(PEOPLE):
            self.heimdall.add_user(f"p{i}", f"p{i}@example.com")
            self.slack.add_user(f"UP{i}", f"p{i}@example.com", tz="UTC", tz_offset=0)
            for name, hours in KEYS.items():
                self.heimdall.add_token(f"p{i}", name, expiration=WED_1430 + hours * HOUR)
        self.slack.start()
        self.heimdall.start()
        engine = create_engine(f"sqlite+aiosqlite:///{self.db_path}")
        self.run(migrate(engine))
        self.run(engine.dispose())
        self.failures: list[str] = []
        self.steps = 0
        self.replicas = [Replica(self, "r0"), Replica(self, "r1")]
        for replica in self.replicas:
            replica.db.chooser = replica.choose

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _pass(self, replica: Replica) -> None:
        replica.claims = 0
        try:
            await Sweeper(replica.rt, worker=replica.name).run("auto")
        except ProcessKilled:
            await self.restart(replica)
        except Exception as exc:  # a failed pass is an outcome here; the invariants judge what it left
            self.failures.append(type(exc).__name__)

    async def restart(self, replica: Replica) -> None:
        """The killed process loses what it held in memory; a new one starts on the same database."""
        replica.rt.outcomes.pending.clear()  # (held in memory only: gone with the process)
        await replica.close()
        index = self.replicas.index(replica)
        fresh = Replica(self, replica.name + "+")
        fresh.db.chooser = fresh.choose
        self.replicas[index] = fresh

    # ---- what happens ---------------------------------------------------------------------------

    def _arm(self, replica: Replica, slack: str | None, times: int, db: tuple[str, When, int] | None,
             kill: int | None) -> None:
        if slack == "lost":
            self.slack.lose_answer("chat.postMessage", times)
        elif slack is not None:
            self.slack.fail("chat.postMessage", slack, times=times)
        if db is not None:
            replica.db.fail(*db)
        replica.kill_at = kill

    @rule(which=st.integers(0, 1), slack=SLACK_FAULTS, times=st.integers(1, 4), db=DB_FAULTS,
          kill=st.none() | st.integers(1, 3))
    def one_pass(self, which: int, slack: str | None, times: int, db: tuple[str, When, int] | None,
                 kill: int | None) -> None:
        """A pass, with Slack and the database failing as drawn, and perhaps killed between batches."""
        self._arm(self.replicas[which], slack, times, db, kill)
        self.run(self._pass(self.replicas[which]))
        self.steps += 1

    @rule(slack=SLACK_FAULTS, times=st.integers(1, 4), db=DB_FAULTS)
    def both_at_once(self, slack: str | None, times: int, db: tuple[str, When, int] | None) -> None:
        self._arm(self.replicas[1], slack, times, db, None)

        async def both() -> None:
            await asyncio.gather(*(self._pass(r) for r in self.replicas))

        self.run(both())
        self.steps += 1

    @rule(minutes=st.sampled_from([1, 11, 40, 61, 3 * 60]))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    # ---- what must hold ---------------------------------------------------------------------

    def taken(self) -> Counter[tuple[str, str, str]]:
        """DMs Slack took (including those whose answer was lost), by person, key and step."""
        out: Counter[tuple[str, str, str]] = Counter()
        for call in self.slack.delivered("chat.postMessage"):
            blocks = call.params["blocks"]
            key = json.loads(next(b for b in blocks if b["type"] == "actions")["elements"][0]["value"])["k"]
            step = next(b for b in blocks if b["type"] == "context")["elements"][0]["text"].split(" before")[0]
            out[call.params["channel"], key, step] += 1
        return out

    @invariant()
    def nobody_gets_a_step_twice(self) -> None:
        twice = [k for k, n in self.taken().items() if n > 1]
        assert not twice, twice

    @precondition(lambda self: self.steps >= 4)
    @rule()
    def faults_stop_and_everything_settles(self) -> None:
        """Faults end; within a few passes every due step has a final outcome, and none is sent twice."""
        for replica in self.replicas:
            replica.db.heal()
            replica.db.chooser = replica.choose
            replica.kill_at = None
        self.slack.failures.clear()
        for _ in range(2):
            self.clock.advance(hours=3, minutes=30)  # past every lease and back-off
            for replica in self.replicas:
                self.run(self._pass(replica))
        store = self.replicas[0].store
        ledger = self.run(store.ledger.ledger())
        now = self.clock.now()
        open_rows = [r for r in ledger if r["state"] not in FINAL_STATES and r["expiration"] > now]
        assert not open_rows, open_rows
        done: dict[tuple[str, str], set[str]] = {}
        for r in ledger:
            if r["state"] in FINAL_STATES:
                done.setdefault((r["dataos_user_id"], r["key_name"]), set()).add(r["step"])
        for i in range(PEOPLE):
            for name in KEYS:
                sighting = self.run(store.sightings.get_sighting((f"p{i}", name, self._expiration(name))))
                if sighting is None:
                    continue
                facts = KeyFacts(sighting.expiration, None, sighting.muted, sighting.snoozed_until)
                step = due_step(facts, now, [30 * 24, 7 * 24, 24], done.get((f"p{i}", name), set()))
                assert step is None or sighting.expiration <= now, (f"p{i}", name, step)
        sent = {(r["slack_user_id"], r["key_name"]) for r in ledger if r["state"] == "sent"}
        assert sent <= {(f"U{c[1:]}", k) for c, k, _ in self.taken()}  # "sent" only what Slack took

    def _expiration(self, name: str) -> Any:
        return WED_1430 + KEYS[name] * HOUR

    def teardown(self) -> None:
        for replica in self.replicas:
            replica.db.heal()
            with contextlib.suppress(Exception):
                self.run(replica.close())
        self.loop.close()
        self.slack.stop()
        self.heimdall.stop()


def test_reminders_are_sent_exactly_once_whatever_fails() -> None:
    run_state_machine_as_test(ExactlyOnce, settings=settings(
        max_examples=25, stateful_step_count=20, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow]))

