"""The leak watch's budget of DataOS `/authorize` checks, shared fairly and never dropping work silently.

At most `per_minute` checks in any minute (DataOS's protection), of which one poster may use a quarter
(at least one message's worth, 10) and one channel half: whoever pastes a flood of key-shaped junk uses
up their own share, not the checks of the next person who pastes a real key. A candidate over budget
waits in a bounded queue, one line per poster, served in turn (round-robin) as budget returns; only
when the queue is full is a candidate left unchecked, and that is counted and logged. Candidates are
held in memory only, never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Literal

from bot.domain.leaks import MAX_CANDIDATES
from bot.metrics import LEAKS

log = logging.getLogger(__name__)
#: /authorize checks in flight at once.
IN_FLIGHT = 4
WINDOW = 60.0
#: A poster told that their checks wait is told again only after this long.
NOTE_EVERY = 3600.0
#: The longest the background turn sleeps before it looks at the queue again.
MAX_NAP = 60.0
Job = Callable[[], Awaitable[None]]
Outcome = Literal["checked", "queued", "dropped"]


class CheckGate:
    def __init__(self, per_minute: int, *, queue_size: int = 500, in_flight: int = IN_FLIGHT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        # One message (at most MAX_CANDIDATES) always fits a poster's share, budget permitting.
        self.poster_share = max(min(per_minute, MAX_CANDIDATES), per_minute // 4)
        self.channel_share = max(self.poster_share, per_minute // 2)
        self.queue_size = queue_size
        self._clock = clock
        self._used: dict[str, deque[float]] = {}  # "" (everyone), "u:<poster>", "c:<channel>"
        self._queues: dict[str, deque[tuple[str, Job]]] = {}  # by poster, in turn order
        self.queued = 0
        self.dropped = 0  # since start
        self._noted: dict[str, float] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._turns: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(in_flight)

    @property
    def slots(self) -> asyncio.Semaphore:
        return self._slots

    def _count(self, key: str, now: float) -> int:
        used = self._used.get(key)
        if used is None:
            return 0
        while used and used[0] <= now - WINDOW:
            used.popleft()
        if not used and key:
            del self._used[key]
            return 0
        return len(used)

    def _fits(self, poster: str, channel: str, now: float) -> bool:
        return (self._count("", now) < self.per_minute and self._count("u:" + poster, now) < self.poster_share
                and self._count("c:" + channel, now) < self.channel_share)

    def _take(self, poster: str, channel: str, now: float) -> None:
        if len(self._used) > 10_000:  # posters and channels not heard from for a minute are forgotten
            for key in list(self._used):
                self._count(key, now)
        for key in ("", "u:" + poster, "c:" + channel):
            self._used.setdefault(key, deque()).append(now)

    async def submit(self, poster: str, channel: str, job: Job) -> Outcome:
        """Run `job` (one check) now if the budget allows and `poster` has nothing waiting ("checked", once
        it has run); else queue it ("queued") or, with the queue full, leave it ("dropped")."""
        now = self._clock()
        if poster not in self._queues and self._fits(poster, channel, now):
            self._take(poster, channel, now)
            await self._run([job])
            return "checked"
        if self.queued >= self.queue_size:
            self._drop()  # the caller logs it, once per message
            return "dropped"
        self._queues.setdefault(poster, deque()).append((channel, job))
        self.queued += 1
        LEAKS.labels("check queued").inc()
        self._ensure_turns()
        return "queued"

    def first_wait(self, poster: str) -> bool:
        """True the first time in NOTE_EVERY that `poster`'s checks had to wait (tell them once)."""
        now = self._clock()
        if len(self._noted) > 10_000:
            self._noted = {p: t for p, t in self._noted.items() if t > now - NOTE_EVERY}
        last = self._noted.get(poster)
        if last is not None and last > now - NOTE_EVERY:
            return False
        self._noted[poster] = now
        return True

    def _drop(self) -> None:
        self.dropped += 1
        LEAKS.labels("check skipped: queue full").inc()

    async def pump(self) -> int:
        """Start every waiting check the budget allows now, posters in turn, and wait until all checks
        under way have finished. The number started."""
        now = self._clock()
        started: list[Job] = []
        progress = True
        while progress and self._queues:
            progress = False
            for poster in list(self._queues):
                line = self._queues[poster]
                channel, job = line[0]
                if not self._fits(poster, channel, now):
                    continue
                line.popleft()
                self.queued -= 1
                self._take(poster, channel, now)
                started.append(job)
                progress = True
                del self._queues[poster]  # to the end of the turn order
                if line:
                    self._queues[poster] = line
        await self._run(started)
        return len(started)

    async def _run(self, jobs: list[Job]) -> None:
        for job in jobs:
            task = asyncio.create_task(self._guarded(job))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    @staticmethod
    async def _guarded(job: Job) -> None:
        try:
            await job()
        except Exception:
            log.exception("leak watch: a check failed")  # the candidate is not in this log line

    def _next_due(self) -> float:
        """Seconds until a waiting check may fit (at most MAX_NAP)."""
        now = self._clock()
        nap = MAX_NAP
        for poster, line in self._queues.items():
            waits = [0.0]
            for key, limit in (("", self.per_minute), ("u:" + poster, self.poster_share),
                               ("c:" + line[0][0], self.channel_share)):
                used = self._used.get(key)
                if used is not None and len(used) >= limit:  # fits again when enough of these are a minute old
                    waits.append(used[len(used) - limit] + WINDOW - now)
            nap = min(nap, max(waits))
        return max(0.0, nap)

    def _ensure_turns(self) -> None:
        self._wake.set()
        if self._turns is None or self._turns.done():
            self._turns = asyncio.create_task(self._take_turns())

    async def _take_turns(self) -> None:
        while self._queues:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._next_due() + 0.05)
            await self.pump()

    async def aclose(self) -> None:
        if self.queued:
            log.warning("leak watch: shutting down with %d candidate(s) still waiting for a check; they were not "
                        "checked", self.queued)
        if self._turns is not None:
            self._turns.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._turns
