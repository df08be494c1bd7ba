"""Reminder passes: a cheap **tick** decided from the bot's record of keys, and a **discovery** that lists
everyone's keys.

The record is `key_sightings` (each key the bot has seen: owner, name, expiration, first seen) plus
`swept_users.listed_at` (when each person's keys were last listed). A tick (every
SWEEP_INTERVAL_MINUTES) decides from the record alone which keys have a reminder step due that may be
sent now (the owner's working hours), and calls DataOS only for the owners of those keys, to confirm
each key still exists with the same expiration before the DM goes out; a key revoked or renewed
elsewhere meanwhile gets no reminder. A discovery (every DISCOVERY_INTERVAL, and at start-up when the
record is empty or older) lists every audience member's keys and walks the Slack directory, so keys
made outside the bot become known. Both share one pipeline: DataOS is called with bounded concurrency,
decisions are pure (`bot.domain.reminders`), and each reminder is claimed in the database before its
DM is sent, so replicas send it once whatever mix of ticks and discoveries they run.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from slack_sdk.errors import SlackApiError

from bot.audience import Recipient, build_audience
from bot.dataos import DataOSError, Token
from bot.delivery import SweepFailed as SweepFailed  # re-exported: callers catch it from here too
from bot.domain.durations import humanize_hours, parse_duration_hours
from bot.domain.reminders import KeyFacts, WorkingTime, due_step, may_send_now, zone_for
from bot.identity import SlackProfile, slack_error
from bot.metrics import DATAOS_PURPOSE, RECORD_AGE, REMINDERS, SWEEP_SECONDS
from bot.reminders.bot_key import BotKeyReminders, lifetime
from bot.reminders.notices import NoticeWatch
from bot.reminders.outbox import SEND_BATCH, Outbox, Outgoing
from bot.reminders.summary import SlackStopped, SweepSummary
from bot.reminders.team_sweep import TeamReminders
from bot.rotation.engine import rotation_pass
from bot.slack.blocks.reminders import reminder_message
from bot.slack.revocations.due import carry_out_due
from bot.store import KeyId, Link, ReminderState, Sighting

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
FLUSH_EVERY = 1000

#: A discovery that began this long ago and never said it finished (its process died, or the database
#: was down when it failed) is due again, whatever DISCOVERY_INTERVAL says.
DISCOVERY_LEASE = timedelta(hours=1)
#: A discovery reads the DataOS directory afresh unless it was read this recently.
DIRECTORY_FRESH_SECONDS = 60.0

Mode = Literal["auto", "tick", "discovery"]
DISCOVERY_MARK = "discovery"


def worker_name() -> str:
    return f"{socket.gethostname()[:64]}:{uuid.uuid4().hex[:8]}"


class Sweeper:
    def __init__(self, rt: Runtime, *, worker: str | None = None) -> None:
        self.rt = rt
        self.settings = rt.settings
        self.worker = worker or worker_name()
        self.ladder = rt.settings.ladder_hours
        self.working = WorkingTime.parse(rt.settings.working_hours, rt.settings.working_days)
        self.snooze_words = humanize_hours(rt.snooze_hours)
        self.snooze = timedelta(hours=rt.snooze_hours)
        # New sightings and first-swept users are written in batches: one commit per thousand, not per user.
        self._pending_sightings: list[Sighting] = []
        self._pending_swept: list[str] = []
        self._pending_listed: list[str] = []
        self._pending_gone: list[KeyId] = []
        self._known: dict[str, list[KeyId]] = {}  # the record, by owner
        self.outbox = Outbox(rt, self.worker)
        self.teams = TeamReminders(self)
        self.notices = NoticeWatch(self)
        self.bot_key = BotKeyReminders(self)

    async def _flush(self, now: datetime) -> None:
        sightings, swept, listed, gone = (self._pending_sightings, self._pending_swept, self._pending_listed,
                                          self._pending_gone)
        self._pending_sightings, self._pending_swept, self._pending_listed, self._pending_gone = [], [], [], []
        await self.rt.sightings.save_sweep_progress(sightings, swept, now, listed=listed, gone=gone)

    async def run(self, mode: Mode = "auto") -> SweepSummary:
        """One pass. "auto" (the scheduler's and `apikey-bot sweep`'s) is a tick, or a discovery when the
        last one began more than DISCOVERY_INTERVAL ago or never; replicas agree through the database
        which of them runs it. "discovery" forces one now."""
        started = time.perf_counter()
        now = self.rt.clock()
        summary = SweepSummary()
        if self.rt.slack_stopped is not None:
            raise SweepFailed(f"Slack refuses the bot's token ({self.rt.slack_stopped}); no reminder can be sent")
        # Outcomes an earlier pass could not write go in first: their claims are still open.
        if not await self.rt.outcomes.flush(self.rt.ledger):
            raise SweepFailed(f"the database did not take {len(self.rt.outcomes.pending)} earlier reminder "
                              "outcome(s); nothing new is sent until it does")
        await self._scheduled_revocations(now, summary)
        summary.rotation = await rotation_pass(self.rt, self.worker, summary.failures)
        interval = timedelta(hours=parse_duration_hours(self.settings.discovery_interval))
        discover = False
        if mode != "tick":
            older_than = now - interval if mode == "auto" else now + interval
            # Claimed as "due again once the lease has passed", and moved to `now` only when it finished:
            # a discovery that fails or dies without being able to say so is not lost for a whole interval.
            lease = min(DISCOVERY_LEASE, interval / 2)
            discover = await self.rt.marks.claim_mark(DISCOVERY_MARK, now=now, older_than=older_than,
                                                      to=now - interval + lease) is not None
            discover = discover or mode == "discovery"
        summary.kind = "discovery" if discover else "tick"
        purpose = DATAOS_PURPOSE.set(summary.kind)
        try:
            if discover:
                await self._discover(now, summary)
            else:
                await self._tick(now, summary)
        except BaseException as exc:
            if discover:  # not done (failed, or cancelled by a shutdown): due again, so the next pass is one
                await self._set_discovery_mark(now - interval - timedelta(seconds=1), "due again")
            if isinstance(exc, SlackStopped):
                raise SweepFailed(str(exc)) from None
            raise
        finally:
            DATAOS_PURPOSE.reset(purpose)
        if discover:
            await self._set_discovery_mark(now, "done")
        try:
            oldest = await self.rt.sightings.oldest_listing()
            RECORD_AGE.set((now - oldest).total_seconds() if oldest is not None else 0)
        except Exception as exc:  # a gauge: never a reason to fail a pass whose DMs are out
            log.warning("could not read the age of the key record: %s", type(exc).__name__)
        summary.seconds = time.perf_counter() - started
        SWEEP_SECONDS.observe(summary.seconds)
        REMINDERS.labels("sent").inc(summary.sent + summary.team_sent)
        REMINDERS.labels("skipped").inc(sum(summary.skipped.values()))
        REMINDERS.labels("failed").inc(len(summary.failures))
        REMINDERS.labels("undeliverable").inc(sum(summary.undeliverable.values()))
        REMINDERS.labels("unknown").inc(summary.unknown)
        return summary

    async def _set_discovery_mark(self, at: datetime, what: str) -> None:
        try:
            await asyncio.shield(self.rt.marks.set_mark(DISCOVERY_MARK, at))
        except Exception as exc:  # the claim's lease makes it due again anyway (DISCOVERY_LEASE)
            log.warning("could not mark the discovery as %s (%s); it is due again within %s", what,
                        type(exc).__name__, DISCOVERY_LEASE)

    async def _discover(self, now: datetime, summary: SweepSummary) -> None:
        """Every audience member's keys, listed; both directories read afresh."""
        members, state, audience = await self._prepare(now, summary, discover=True)
        listed, rest = await self._share(audience)
        # Those whose listing waits are checked as a tick checks them: a reminder due now is not held back.
        due = [r for r in rest if self._has_due_key(r, state, now)]
        summary.deferred = len(rest) - len(due)
        await self.notices.begin(now)
        await self._process(listed + due, state, now, summary)
        await self.teams.run(now, state, members, summary)
        await self.bot_key.watch(now, state, members, summary)
        await self.notices.finish(now, self.teams.owned, summary)  # "Was this you?" (bot.reminders.notices)

    async def _share(self, audience: list[Recipient]) -> tuple[list[Recipient], list[Recipient]]:
        """This discovery's share of DISCOVERY_LISTINGS_PER_DAY: those never listed, then those listed longest
        ago; the rest wait for the next discovery. Everyone when the audience fits (or the limit is 0)."""
        per_day = self.settings.discovery_listings_per_day
        hours = parse_duration_hours(self.settings.discovery_interval)
        share = math.ceil(per_day * min(hours, 24) / 24) if per_day else len(audience)
        if len(audience) <= share:
            return audience, []
        listed_at = await self.rt.sightings.listed_at()
        oldest = datetime.min.replace(tzinfo=UTC)
        order = sorted(audience, key=lambda r: (r.dataos_user_id in listed_at,
                                                listed_at.get(r.dataos_user_id) or oldest, r.dataos_user_id))
        return order[:share], order[share:]

    async def _tick(self, now: datetime, summary: SweepSummary) -> None:
        """Decide from the record; call DataOS only for the owners of keys with a reminder due now."""
        members, state, audience = await self._prepare(now, summary, discover=False)
        due = [r for r in audience if self._has_due_key(r, state, now)]
        summary.due_owners = len(due)
        await self._process(due, state, now, summary)
        await self.teams.run(now, state, members, summary)
        if await self.bot_key.due(state, members, now):
            await self.bot_key.watch(now, state, members, summary)

    async def _prepare(self, now: datetime, summary: SweepSummary, *,
                       discover: bool) -> tuple[dict[str, SlackProfile], ReminderState, list[Recipient]]:
        """The directories, the record and the audience a pass starts from. A discovery reads both
        directories afresh (a failed Slack walk falls back to the last one); a tick uses them as they
        are and reads only the keys the ladder can reach."""
        try:
            if discover:
                # (not again if it was loaded a moment ago: at start-up, the warm-up has just done it)
                await self.rt.directory.refresh(max_age=DIRECTORY_FRESH_SECONDS)
                try:
                    await self.rt.slack_directory.refresh()
                except SlackApiError as exc:
                    if not self.rt.slack_directory.loaded:
                        raise
                    summary.failures.append(f"Slack's users.list failed ({slack_error(exc)}); "
                                            "the directory from the last walk was used")
            else:
                await self.rt.directory.ensure_loaded()
            members = await self.rt.slack_directory.members()  # walked only if never walked and stored
            horizon = None if discover else now + timedelta(hours=max(self.ladder, default=0)) + timedelta(days=1)
            state = await self.rt.sightings.load_reminder_state(since=now, until=horizon)
            await self.rt.self_links.check_all()  # a self-link ends with the key that proved it
            links = await self.rt.links.links()
        except DataOSError as exc:
            raise SweepFailed(f"the DataOS user directory is unavailable: {exc}") from None
        except SlackApiError as exc:
            raise SweepFailed(f"Slack's users.list failed: {slack_error(exc)}") from None
        self._known = {}
        for key in state.sightings:
            self._known.setdefault(key[0], []).append(key)
        return members, state, self._audience(members, state, links)

    def _audience(self, members: dict[str, SlackProfile], state: ReminderState,
                  links: list[Link]) -> list[Recipient]:
        only = state.active if self.settings.reminder_audience == "active" else None
        return build_audience(self.rt.directory.persons(), members, links, disabled=state.disabled, only=only)

    def _has_due_key(self, recipient: Recipient, state: ReminderState, now: datetime) -> bool:
        zone = None  # looked up only for someone with a due key: most people have none
        for key in self._known.get(recipient.dataos_user_id, ()):
            sighting = state.sightings[key]
            facts = KeyFacts(sighting.expiration, lifetime(sighting), sighting.muted, sighting.snoozed_until)
            if due_step(facts, now, self.ladder, state.sent.get(key, ())) is None:
                continue
            zone = zone or zone_for(recipient.slack.tz, recipient.slack.tz_offset)
            if may_send_now(now, zone, self.working, sighting.expiration):
                return True
        return False

    async def _process(self, recipients: list[Recipient], state: ReminderState, now: datetime,
                       summary: SweepSummary) -> None:
        """List each recipient's keys, refresh the record from the answer, decide, claim and send."""
        queue: asyncio.Queue[Recipient] = asyncio.Queue()
        for recipient in recipients:
            queue.put_nowait(recipient)
        listers = min(self.settings.sweep_concurrency, max(1, len(recipients)))
        # DMs go out from their own task, so a lister goes back to DataOS at once instead of waiting
        # for claims, Slack and the ledger; the bounded queue holds the listers back when Slack is
        # slower than DataOS.
        outbox: asyncio.Queue[Outgoing | None] = asyncio.Queue(maxsize=2 * SEND_BATCH)
        sender = asyncio.create_task(self.outbox.run(outbox, summary, listers))
        workers = [asyncio.create_task(self._worker(queue, outbox, state, now, summary)) for _ in range(listers)]
        listing = asyncio.gather(*workers)
        try:
            # The sender may stop first (Slack refuses the token): then the listers must not wait on it.
            waiting: list[asyncio.Future[Any]] = [listing, sender]
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if sender.done():
                sender.result()  # raises SlackStopped
            await listing
            await outbox.put(None)
            await sender
        finally:
            for task in [*workers, sender]:
                task.cancel()
            # Cancelled (a shutdown), they still record what Slack took (see Outbox.send_batch): wait for that, so
            # nothing closes the database under them.
            await asyncio.gather(*workers, sender, return_exceptions=True)
            if listing.done() and not listing.cancelled():
                # When the sender stopped first nobody awaited the listers' gather; reading its outcome here
                # keeps asyncio from logging "exception was never retrieved" as an ERROR.
                listing.exception()
        await self._flush(now)

    async def _worker(self, queue: asyncio.Queue[Recipient], outbox: asyncio.Queue[Outgoing | None],
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

    async def _user(self, recipient: Recipient, tokens: list[Token], outbox: asyncio.Queue[Outgoing | None],
                    state: ReminderState, now: datetime, summary: SweepSummary) -> None:
        uid = recipient.dataos_user_id
        self.notices.saw(uid, tokens, state, now, audience=f"owner:{recipient.slack.user_id}")
        first_sweep = uid not in state.swept
        listed = {(uid, t.name, t.expiration) for t in tokens}
        # Keys in the record that this complete listing no longer shows were revoked or renewed elsewhere.
        self._pending_gone += [key for key in self._known.get(uid, ()) if key not in listed]
        if not first_sweep:
            self._pending_listed.append(uid)
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
            life = lifetime(sighting)
            facts = KeyFacts(token.expiration, life, sighting.muted, sighting.snoozed_until)
            step = due_step(facts, now, self.ladder, state.sent.get(key, ()))
            if step is None:
                summary.skipped["muted" if sighting.muted else "not due"] += 1
                continue
            due.append((token, key, step, life))
        self._pending_sightings += new
        if first_sweep:
            self._pending_swept.append(uid)
        if len(self._pending_sightings) + len(self._pending_swept) + len(self._pending_listed) >= FLUSH_EVERY:
            await self._flush(now)
        for token, key, step, life in due:
            zone = zone_for(recipient.slack.tz, recipient.slack.tz_offset)
            if not may_send_now(now, zone, self.working, token.expiration):
                summary.skipped["outside working hours"] += 1
                continue
            hours = int(life.total_seconds() // 3600) if life else None
            # A snooze that would end after the key expired is no choice at all: not offered.
            snooze = self.snooze_words if token.expiration - now > self.snooze else None
            message = reminder_message(token.name, token.expiration, now, step, lifetime_hours=hours,
                                       snooze_words=snooze)
            await outbox.put(Outgoing(key, step, recipient.slack.user_id, message, now))

    async def _scheduled_revocations(self, now: datetime, summary: SweepSummary) -> None:
        """"Revoke the old key in N hours" (from a renewal), once its time has come (`bot.slack.revocations`)."""
        carried = await carry_out_due(self.rt, worker=self.worker, now=now)
        summary.revoked_later += carried.revoked
        if carried.changed:
            summary.skipped["scheduled revoke: key changed"] += carried.changed
        summary.failures += carried.failures
