"""Counting what is in progress (listener work after an ack, acks not yet sent, a sweep), so that shutdown
and the acks' priority can wait for none to be left."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class InProgress:
    """How many of something are in progress, and an event that is set whenever none is."""

    def __init__(self) -> None:
        self.count = 0
        self.none = asyncio.Event()
        self.none.set()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        self.count += 1
        self.none.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self.none.set()
