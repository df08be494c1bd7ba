"""Events API deliveries already handled, so a delivery Slack repeats is handled once across replicas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from bot.store.base import Repository
from bot.store.schema import SlackEvent


class SlackEvents(Repository):
    async def claim_event(self, event_id: str, now: datetime) -> bool:
        """True for the first delivery of `event_id` across replicas; False for a repeat."""
        stmt = self._insert(SlackEvent).values(event_id=event_id, received_at=now).on_conflict_do_nothing(
            index_elements=[SlackEvent.event_id])
        async with self.engine.begin() as conn:
            result = await conn.execute(stmt)
            return bool(getattr(result, "rowcount", 0))

    async def release_event(self, event_id: str) -> None:
        """The delivery failed before it was handled: Slack's retry of it must be processed."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(SlackEvent).where(SlackEvent.event_id == event_id))

    async def prune_events(self, older_than: datetime) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(SlackEvent).where(SlackEvent.received_at < older_than))
            return int(getattr(result, "rowcount", 0))
