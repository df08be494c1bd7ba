"""The bot's real Store on a real database, with chosen operations failing as a database blip would:
before the statement reaches the database (nothing happened), or after it committed (the answer was
lost). Only the boundary is wrapped; every query runs for real."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy.exc import OperationalError

from bot.store import Store

When = Literal["before", "after"]


def blip() -> OperationalError:
    return OperationalError("(database blip)", {}, ConnectionRefusedError("the database went away"))


class FlakyStore:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._plan: dict[str, list[When]] = {}
        #: Asked before every call: a When to fail this call, None to let it through (random faults).
        self.chooser: Callable[[str], When | None] | None = None
        self.failed: list[tuple[str, When]] = []

    def fail(self, method: str, when: When = "before", times: int = 1) -> None:
        self._plan.setdefault(method, []).extend([when] * times)

    def heal(self) -> None:
        self._plan.clear()
        self.chooser = None

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            planned = self._plan.get(name)
            when = planned.pop(0) if planned else (self.chooser(name) if self.chooser else None)
            if when == "before":
                self.failed.append((name, when))
                raise blip()
            result = await attr(*args, **kwargs)
            if when == "after":
                self.failed.append((name, when))
                raise blip()
            return result

        return call
