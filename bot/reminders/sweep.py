"""One reminder pass: list every audience member's keys, decide, claim, send.

Decisions are pure (`bot.domain.reminders`); this module does the I/O around them. DataOS is called
with bounded concurrency (a pool of workers, `SWEEP_CONCURRENCY`), never one user at a time. Each
reminder is claimed in the database before its DM is sent, so replicas sweeping together send it
once, and a sweep that dies between claim and send leaves a claim the next sweep takes over once its
lease has passed. The database is read once at the start and written only for new sightings, claims
and outcomes, so a sweep over thousands of users costs little besides the DataOS calls.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.dataos import DataOSError, Token
from bot.domain.durations import humanize_hours
from bot.domain.reminders import KeyFacts, WorkingTime, due_step, may_send_now, zone_for
from bot.identity import SlackProfile, slack_error
from bot.metrics import REMINDERS, SWEEP_SECONDS
from bot.reminders.audience import Recipient, build_audience
from bot.slack import blocks
from bot.store import KeyId, ReminderState, Sighting

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
#: A claim not confirmed as sent within this time is taken over by a later sweep.
CLAIM_LEASE = timedelta(minutes=10)
FLUSH_EVERY = 1000
#: Slack retries an event within minutes; its id is remembered for hours (de-duplication, shared by replicas).
EVENT_MEMORY = timedelta(hours=6)


class SweepFailed(Exception):
    """The sweep could not start (directory or database unavailable); the message says why."""


@dataclass
class SweepSummary:
    users_checked: int = 0
    keys_seen: int = 0
    sent: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    revoked_later: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [
            f"users checked: {self.users_checked}",
            f"keys seen: {self.keys_seen}",
            f"reminders sent: {self.sent}",
        ]
        if self.skipped:
            out.append("skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())))
        else:
            out.append("skipped: none")
        if self.revoked_later:
            out.append(f"scheduled revocations carried out: {self.revoked_later}")
        out.append(f"failures: {len(self.failures)}")
        out += [f"  - {f}" for f in self.failures[:20]]
        if len(self.failures) > 20:
            out.append(f"  … and {len(self.failures) - 20} more")
        out.append(f"took {self.seconds:.1f} s")
        return out


@dataclass(frozen=True, slots=True)
class _Outgoing:
    key: KeyId
    step: str
    slack_user_id: str
    message: blocks.Message
    now: datetime


def worker_name() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


class Sweeper:
    def __init__(self, rt: Runtime, *, worker: str | None = None) -> None:
        self.rt = rt
        self.settings = rt.settings
        self.worker = worker or worker_name()
        self.ladder = rt.settings.ladder_hours
        self.working = WorkingTime.parse(rt.settings.working_hours, rt.settings.working_days)
        self.snooze_words = humanize_hours(rt.snooze_hours)
        # New sightings and first-swept users are written in batches: one commit per thousand, not per user.
        self._pending_sightings: list[Sighting] = []
        self._pending_swept: list[str] = []

    async def _flush(self, now: datetime) -> None:
        sightings, swept = self._pending_sightings, self._pending_swept
        self._pending_sightings, self._pending_swept = [], []
        await self.rt.store.save_sweep_progress(sightings, swept, now)

    async def run(self) -> SweepSummary:
        started = time.perf_counter()
        summary = SweepSummary()
        now = self.rt.clock()
        await self._scheduled_revocations(now, summary)
        try:
            await self.rt.store.prune_events(older_than=now - EVENT_MEMORY)
        except Exception as exc:  # housekeeping: never a reason to skip reminders
            log.warning("could not prune the Events API record: %s", type(exc).__name__)
        try:
            await self.rt.directory.refresh()
            members = await self.rt.slack_directory.members()
            state = await self.rt.store.load_reminder_state(since=now)
            links = await self.rt.store.links()
        except DataOSError as exc:
            raise SweepFailed(f"the DataOS user directory is unavailable: {exc}") from None
        except SlackApiError as exc:
            raise SweepFailed(f"Slack's users.list failed: {slack_error(exc)}") from None
        only = state.active if self.settings.reminder_audience == "active" else None
        audience = build_audience(self.rt.directory.persons(), members, links, disabled=state.disabled, only=only)
        queue: asyncio.Queue[Recipient] = asyncio.Queue()
        for recipient in audience:
            queue.put_nowait(recipient)
        listers = min(self.settings.sweep_concurrency, max(1, len(audience)))
        # DMs go out from their own tasks, so a lister goes back to DataOS at once instead of waiting
        # for a claim, a Slack call and a ledger write; the bounded queue holds the listers back
        # when Slack is slower than DataOS.
        outbox: asyncio.Queue[_Outgoing | None] = asyncio.Queue(maxsize=4 * listers)
        senders = [asyncio.create_task(self._sender(outbox, summary)) for _ in range(listers)]
        workers = [asyncio.create_task(self._worker(queue, outbox, state, now, summary)) for _ in range(listers)]
        try:
            await asyncio.gather(*workers)
            for _ in senders:
                await outbox.put(None)
            await asyncio.gather(*senders)
        finally:
            for task in workers + senders:
                task.cancel()
        await self._flush(now)
        await self._watch_bot_key(now, state, members, summary)
        summary.seconds = time.perf_counter() - started
        SWEEP_SECONDS.observe(summary.seconds)
        REMINDERS.labels("sent").inc(summary.sent)
        REMINDERS.labels("skipped").inc(sum(summary.skipped.values()))
        REMINDERS.labels("failed").inc(len(summary.failures))
        return summary

    async def _worker(self, queue: asyncio.Queue[Recipient], outbox: asyncio.Queue[_Outgoing | None],
                      state: ReminderState, now: datetime, summary: SweepSummary) -> None:
        while True:
            try:
                recipient = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                tokens = await self.rt.dataos.list_tokens(recipient.dataos_user_id)
            except DataOSError as exc:
                summary.failures.append(f"{recipient.dataos_user_id}: listing keys failed ({exc})")
                continue
            summary.users_checked += 1
            try:
                await self._user(recipient, tokens, outbox, state, now, summary)
            except Exception as exc:  # one person's problem must not stop everyone else's reminders
                log.exception("sweep failed for %s", recipient.dataos_user_id)
                summary.failures.append(f"{recipient.dataos_user_id}: {type(exc).__name__}")

    async def _user(self, recipient: Recipient, tokens: list[Token], outbox: asyncio.Queue[_Outgoing | None],
                    state: ReminderState, now: datetime, summary: SweepSummary) -> None:
        uid = recipient.dataos_user_id
        first_sweep = uid not in state.swept
        new: list[Sighting] = []
        due: list[tuple[Token, KeyId, str, timedelta | None]] = []
        for token in tokens:
            if token.expiration <= now:
                continue
            summary.keys_seen += 1
            key: KeyId = (uid, token.name, token.expiration)
            sighting = state.sightings.get(key)
            if sighting is None:
                sighting = Sighting(uid, token.name, token.expiration, first_seen=now, preexisting=first_sweep)
                new.append(sighting)
            lifetime = _lifetime(sighting)
            facts = KeyFacts(token.expiration, lifetime, sighting.muted, sighting.snoozed_until)
            step = due_step(facts, now, self.ladder, state.sent.get(key, ()))
            if step is None:
                summary.skipped["muted" if sighting.muted else "not due"] += 1
                continue
            due.append((token, key, step, lifetime))
        self._pending_sightings += new
        if first_sweep:
            self._pending_swept.append(uid)
        if len(self._pending_sightings) + len(self._pending_swept) >= FLUSH_EVERY:
            await self._flush(now)
        for token, key, step, lifetime in due:
            zone = zone_for(recipient.slack.tz, recipient.slack.tz_offset)
            if not may_send_now(now, zone, self.working, token.expiration):
                summary.skipped["outside working hours"] += 1
                continue
            hours = int(lifetime.total_seconds() // 3600) if lifetime else None
            message = blocks.reminder_message(token.name, token.expiration, now, step, lifetime_hours=hours,
                                              snooze_words=self.snooze_words)
            await outbox.put(_Outgoing(key, step, recipient.slack.user_id, message, now))

    async def _sender(self, outbox: asyncio.Queue[_Outgoing | None], summary: SweepSummary) -> None:
        while (item := await outbox.get()) is not None:
            try:
                await self._send(item.key, item.step, item.slack_user_id, item.message, item.now, summary)
            except Exception as exc:  # as in _worker: one failed DM must not stop the others
                log.exception("sending a reminder failed for %s", item.key[0])
                summary.failures.append(f"{item.key[0]}/{item.key[1]}: {type(exc).__name__}")

    async def _send(self, key: KeyId, step: str, slack_user_id: str, message: blocks.Message, now: datetime,
                    summary: SweepSummary) -> None:
        claimed = await self.rt.store.claim_reminder(key, step, now=now, worker=self.worker, lease=CLAIM_LEASE,
                                                     slack_user_id=slack_user_id)
        if not claimed:
            summary.skipped["claimed by another sweep"] += 1
            return
        try:
            # Rate limits (429) are waited out by the client's retry handler; a 429 means "not posted".
            response = await self.rt.slack.chat_postMessage(channel=slack_user_id, **message.kwargs())
        except SlackApiError as exc:
            await self.rt.store.finish_reminder(key, step, state="failed", now=now)
            summary.failures.append(f"{key[0]}/{key[1]}: Slack refused the DM ({slack_error(exc)})")
            return
        # Slack has it: record that even if this sweep is being cancelled (shutdown), or the next sweep
        # would send it again once the claim's lease ran out.
        await asyncio.shield(self.rt.store.finish_reminder(
            key, step, state="sent", now=now, channel=str(response.get("channel")), ts=str(response.get("ts"))))
        summary.sent += 1

    async def _scheduled_revocations(self, now: datetime, summary: SweepSummary) -> None:
        """"Revoke the old key in N hours" (from a renewal), once its time has come."""
        for item in await self.rt.store.due_revocations(now):
            if not await self.rt.store.take_revocation(item.id):
                continue
            try:
                outcome = await self.rt.keys.revoke_exact(item.dataos_user_id, item.key_name, item.key_expiration,
                                                          actor=item.requested_by, detail="scheduled at renewal")
            except DataOSError as exc:
                await self.rt.store.finish_revocation(item.id, "pending")  # try again next sweep
                summary.failures.append(f"{item.dataos_user_id}/{item.key_name}: scheduled revoke failed ({exc})")
                continue
            await self.rt.store.finish_revocation(item.id, "skipped" if outcome == "changed" else "done")
            if outcome == "revoked":
                summary.revoked_later += 1
            elif outcome == "changed":
                summary.skipped["scheduled revoke: key changed"] += 1

    async def _watch_bot_key(self, now: datetime, state: ReminderState, members: dict[str, SlackProfile],
                             summary: SweepSummary) -> None:
        """The bot's own key expires too: its admins get the same ladder of reminders."""
        if not self.rt.admins:
            return
        try:
            owner = (await self.rt.dataos.authorize(self.settings.dataos_apikey)).user_id
            if owner is None:
                summary.failures.append("the bot's own DataOS key is not valid any more")
                return
            own = self.settings.dataos_apikey.get_secret_value()
            token = next((t for t in await self.rt.dataos.list_tokens(owner)
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
            await self.rt.store.save_sightings([Sighting(owner, token.name, token.expiration, now, preexisting=True)])
        facts = KeyFacts(token.expiration, _lifetime(sighting) if sighting else None,
                         sighting.muted if sighting else False, sighting.snoozed_until if sighting else None)
        sent = state.sent.get(key, set())
        for admin in sorted(self.rt.admins):
            prefix = f"admin:{admin}:"
            step = due_step(facts, now, self.ladder, {s[len(prefix):] for s in sent if s.startswith(prefix)})
            if step is None:
                continue
            profile = members.get(admin)
            zone = zone_for(profile.tz if profile else None, profile.tz_offset if profile else 0)
            if not may_send_now(now, zone, self.working, token.expiration):
                summary.skipped["outside working hours"] += 1
                continue
            message = blocks.bot_key_reminder_message(token.name, token.expiration, now, owner)
            await self._send(key, prefix + step, admin, message, now, summary)


def _lifetime(sighting: Sighting) -> timedelta | None:
    """Known when the bot made the key; from the first sweep that saw it; unknown if it pre-dates the user."""
    if sighting.created_at is not None:
        return sighting.expiration - sighting.created_at
    if sighting.preexisting:
        return None
    return sighting.expiration - sighting.first_seen
