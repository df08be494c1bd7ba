"""One clock for the whole playground: the bot, the DataOS emulator and Slack move forward together."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class PlayClock:
    """Real time plus an offset that only grows ("move the clock forward 1 day")."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset.total_seconds()

    def advance(self, days: float) -> None:
        if days <= 0:
            raise ValueError("the playground's clock only moves forward")
        self.offset += timedelta(days=days)
