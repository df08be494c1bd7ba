"""Reminders about the bot's own DataOS key: its admins get the same ladder of reminders as an owner gets for
a key of their own, each admin a ladder of their own, in their working hours (part of every sweep pass)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.dataos import DataOSError
from bot.domain.reminders import KeyFacts, due_step, may_send_now, zone_for
from bot.identity import SlackProfile
from bot.reminders.summary import SweepSummary
from bot.slack.blocks.reminders import bot_key_reminder_message
from bot.store import KeyId, ReminderState, Sighting

if TYPE_CHECKING:
    from bot.reminders.sweep import Sweeper  # (which imports this module)


class BotKeyReminders:
    def __init__(self, sweeper: Sweeper) -> None:
        self.sweeper = sweeper

    async def watch(self, now: datetime, state: ReminderState, members: dict[str, SlackProfile],
                             summary: SweepSummary) -> None:
        """The bot's own key expires too: its admins get the same ladder of reminders."""
        if not self.sweeper.rt.admins:
            return
        try:
            owner = (await self.sweeper.rt.dataos.authorize(self.sweeper.rt.operator_key)).user_id
            if owner is None:
                summary.failures.append("the bot's own DataOS key is not valid any more")
                return
            own = self.sweeper.rt.operator_key.get_secret_value()
            token = next((t for t in await self.sweeper.rt.dataos.list_tokens(owner)
                          if t.secret is not None and t.secret.get_secret_value() == own), None)
        except DataOSError as exc:
            summary.failures.append(f"checking the bot's own key failed ({exc})")
            return
        if token is None:
            summary.skipped["bot key not listed"] += 1
            return
        key: KeyId = (owner, token.name, token.expiration)
        sighting = state.sightings.get(key)
        if sighting is None:
            sighting = Sighting(owner, token.name, token.expiration, now, preexisting=True)
            await self.sweeper.rt.sightings.save_sightings([sighting])
        for admin, step in self._steps(key, sighting, state, members, now, summary):
            message = bot_key_reminder_message(token.name, token.expiration, now, owner)
            await self.sweeper.outbox.send(key, f"admin:{admin}:{step}", admin, message, now, summary)

    async def due(self, state: ReminderState, members: dict[str, SlackProfile], now: datetime) -> bool:
        """From the record: is a reminder about the bot's own key due for an admin now? (Then a tick checks
        the key with DataOS; otherwise it costs no call.)"""
        if not self.sweeper.rt.admins:
            return False
        owner = await self.sweeper.rt.keys.operator_user_id()
        return owner is not None and any(self._steps(key, state.sightings[key], state, members, now, None)
                                         for key in self.sweeper._known.get(owner, ()))

    def _steps(self, key: KeyId, sighting: Sighting, state: ReminderState, members: dict[str, SlackProfile],
                     now: datetime, summary: SweepSummary | None) -> list[tuple[str, str]]:
        """(admin, step) pairs to send now for the bot's own key: each admin has a ladder of their own."""
        facts = KeyFacts(sighting.expiration, lifetime(sighting), sighting.muted, sighting.snoozed_until)
        sent = state.sent.get(key, set())
        out: list[tuple[str, str]] = []
        for admin in sorted(self.sweeper.rt.admins):
            prefix = f"admin:{admin}:"
            step = due_step(facts, now, self.sweeper.ladder, {s[len(prefix):] for s in sent if s.startswith(prefix)})
            if step is None:
                continue
            profile = members.get(admin)
            zone = zone_for(profile.tz if profile else None, profile.tz_offset if profile else 0)
            if not may_send_now(now, zone, self.sweeper.working, sighting.expiration):
                if summary is not None:
                    summary.skipped["outside working hours"] += 1
                continue
            out.append((admin, step))
        return out


def lifetime(sighting: Sighting) -> timedelta | None:
    """Known when the bot made the key; from the first sweep that saw it; unknown if it pre-dates the user."""
    if sighting.created_at is not None:
        return sighting.expiration - sighting.created_at
    if sighting.preexisting:
        return None
    return sighting.expiration - sighting.first_seen
