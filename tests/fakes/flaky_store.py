"""The bot's real repositories on a real database, with chosen operations failing as a database blip would:
before the statement reaches the database (nothing happened), or after it committed (the answer was
lost). Only the boundary is wrapped; every query runs for real."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy.exc import OperationalError

from bot.app import Runtime

When = Literal["before", "after"]
#: The Runtime's repositories that `install` wraps (one fault plan for all: method names are unique); the
#: same boundary the single store had (leak reports were never behind it).
REPOSITORIES = ("database", "audit_log", "idempotency", "sightings", "ledger", "marks", "revocations", "members",
                "events", "prefs", "links")


def blip() -> OperationalError:
    return OperationalError("(database blip)", {}, ConnectionRefusedError("the database went away"))


class FlakyStore:
    def __init__(self) -> None:
        self._plan: dict[str, list[When]] = {}
        #: Asked before every call: a When to fail this call, None to let it through (random faults).
        self.chooser: Callable[[str], When | None] | None = None
        self.failed: list[tuple[str, When]] = []

    def install(self, rt: Runtime) -> FlakyStore:
        """Put every repository the Runtime reaches through behind this plan."""
        for name in REPOSITORIES:
            setattr(rt, name, _Flaky(getattr(rt, name), self))
        return self

    def fail(self, method: str, when: When = "before", times: int = 1) -> None:
        self._plan.setdefault(method, []).extend([when] * times)

    def heal(self) -> None:
        self._plan.clear()
        self.chooser = None


class _Flaky:
    def __init__(self, repository: Any, faults: FlakyStore) -> None:
        self._repository = repository
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._repository, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        faults = self._faults

        async def call(*args: Any, **kwargs: Any) -> Any:
            planned = faults._plan.get(name)
            when = planned.pop(0) if planned else (faults.chooser(name) if faults.chooser else None)
            if when == "before":
                faults.failed.append((name, when))
                raise blip()
            result = await attr(*args, **kwargs)
            if when == "after":
                faults.failed.append((name, when))
                raise blip()
            return result

        return call
