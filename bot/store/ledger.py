"""The reminder ledger: each (key, step) is claimed before its DM is sent, and its outcome recorded.

States: `claimed` (a sender has it, until its lease runs out), `sent`, `failed` (Slack refused it for
now: it may be claimed again from `retry_at`), `undeliverable` (Slack refused it for good: this step is
over, the next step of the ladder tries again) and `unknown` (Slack may have taken it: the connection
broke after the DM went out, or the pass was stopped while it was in flight). `sent`, `undeliverable`
and `unknown` are final: nothing overwrites them, and no one sends that step again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, update

from bot.store.base import Repository
from bot.store.schema import ReminderLedger

KeyId = tuple[str, str, datetime]  # (DataOS user, key name, expiration): one key, as reminders see it
#: A step in one of these states is over: it is never claimed, and so never sent, again.
FINAL_STATES = ("sent", "undeliverable", "unknown")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed reminder."""

    key: KeyId
    step: str
    state: str  # sent | failed | undeliverable | unknown
    channel: str | None = None
    ts: str | None = None
    error: str | None = None  # Slack's error code or what broke (never a message text)
    retry_at: datetime | None = None  # failed: not claimed again before this
    at: datetime | None = None  # when it happened (sent: sent_at)


def _ordered(wanted: Sequence[tuple[KeyId, str, str]]) -> list[tuple[KeyId, str, str]]:
    """One order for every claimer: two transactions locking the same rows in opposite orders deadlock
    on PostgreSQL."""
    return sorted(wanted, key=lambda w: (w[0][0], w[0][1], w[0][2], w[1]))


class Ledger(Repository):
    """The ledger's queries."""

    async def claim_reminders(self, wanted: Sequence[tuple[KeyId, str, str]], *, now: datetime, worker: str,
                              lease: timedelta) -> dict[tuple[KeyId, str], int]:
        """Claim reminders, (key, step, Slack user) each, before sending them; returns the (key, step)
        pairs this caller got, with how many times each has been claimed (this time included). Each is got
        by exactly one caller, across replicas. A claim never confirmed (the sender died) can be taken
        again once its lease has passed; one refused for now, from its `retry_at`; a final one never.
        `now` is the time of the claim itself (not of the pass that wants it), so a slow pass does not
        write claims that already look expired. One transaction for many: on SQLite, twenty senders
        committing one by one spent most of a tick waiting for the lock."""
        if not wanted:
            return {}
        ordered = _ordered(wanted)
        table = cast(Table, ReminderLedger.__table__)
        rows = [{"dataos_user_id": k[0], "key_name": k[1], "expiration": k[2], "step": step, "claimed_at": now,
                 "claimed_by": worker, "attempts": 1, "state": "claimed", "slack_user_id": user}
                for k, step, user in ordered]
        insert = self._insert(table).on_conflict_do_nothing().returning(
            table.c.dataos_user_id, table.c.key_name, table.c.expiration, table.c.step)
        async with self.engine.begin() as conn:
            got = {((u, n, e), s): 1 for u, n, e, s in await conn.execute(insert, rows)}
            for key, step, user in ordered:
                if (key, step) in got:
                    continue
                uid, name, exp = key
                retake = (
                    update(ReminderLedger)
                    .where(ReminderLedger.dataos_user_id == uid, ReminderLedger.key_name == name,
                           ReminderLedger.expiration == exp, ReminderLedger.step == step,
                           or_(and_(ReminderLedger.state == "failed",
                                    or_(ReminderLedger.retry_at.is_(None), ReminderLedger.retry_at <= now)),
                               and_(ReminderLedger.state == "claimed", ReminderLedger.claimed_at < now - lease)))
                    .values(state="claimed", claimed_at=now, claimed_by=worker,
                            attempts=ReminderLedger.attempts + 1, slack_user_id=user, retry_at=None)
                    .returning(ReminderLedger.attempts)
                )
                attempts = (await conn.execute(retake)).scalar()
                if attempts is not None:
                    got[key, step] = int(attempts)
        return got

    async def renew_claims(self, pairs: Sequence[tuple[KeyId, str]], *, now: datetime,
                           worker: str) -> set[tuple[KeyId, str]]:
        """Move the lease of claims `worker` still holds to `now` (a batch that has been waiting, e.g. on
        Slack's rate limits); returns those still held, so one taken over meanwhile is not sent."""
        kept: set[tuple[KeyId, str]] = set()
        async with self.engine.begin() as conn:
            for key, step in sorted(pairs, key=lambda p: (p[0][0], p[0][1], p[0][2], p[1])):
                uid, name, exp = key
                moved = await conn.execute(
                    update(ReminderLedger)
                    .where(ReminderLedger.dataos_user_id == uid, ReminderLedger.key_name == name,
                           ReminderLedger.expiration == exp, ReminderLedger.step == step,
                           ReminderLedger.state == "claimed", ReminderLedger.claimed_by == worker)
                    .values(claimed_at=now))
                if getattr(moved, "rowcount", 0):
                    kept.add((key, step))
        return kept

    async def finish_reminders(self, done: Sequence[Outcome]) -> None:
        """Record many outcomes in one transaction. A final state is never overwritten (a sender whose
        claim was taken over cannot turn "sent" back into "failed")."""
        if not done:
            return
        table = cast(Table, ReminderLedger.__table__)
        stmt = update(table).where(
            table.c.dataos_user_id == bindparam("uid"), table.c.key_name == bindparam("name"),
            table.c.expiration == bindparam("exp"), table.c.step == bindparam("st"),
            *(table.c.state != final for final in FINAL_STATES),  # not NOT IN: no expanding list in executemany
        ).values(state=bindparam("state"), sent_at=bindparam("sent_at"), channel=bindparam("channel"),
                 ts=bindparam("msg_ts"), error=bindparam("err"), retry_at=bindparam("retry"))
        ordered = sorted(done, key=lambda o: (o.key[0], o.key[1], o.key[2], o.step))
        async with self.engine.begin() as conn:
            await conn.execute(stmt, [
                {"uid": o.key[0], "name": o.key[1], "exp": o.key[2], "st": o.step, "state": o.state,
                 "sent_at": o.at if o.state in FINAL_STATES else None, "channel": o.channel, "msg_ts": o.ts,
                 "err": (o.error or None) and o.error[:64], "retry": o.retry_at}
                for o in ordered])

    async def step_states(self, key: KeyId, steps: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """(state, error) of those of `steps` of one key that have a row: e.g. whether a channel refused
        a step for good, so that its fallback is offered again on a later pass."""
        if not steps:
            return {}
        uid, name, exp = key
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(ReminderLedger.step, ReminderLedger.state, ReminderLedger.error).where(
                ReminderLedger.dataos_user_id == uid, ReminderLedger.key_name == name,
                ReminderLedger.expiration == exp, ReminderLedger.step.in_(list(steps))))
            return {str(step): (str(state), error) for step, state, error in rows}

    async def retryable(self, dataos_user_id: str, step_like: str, now: datetime) -> list[tuple[KeyId, str, str]]:
        """(key, step, Slack user) of one DataOS user's steps matching `step_like` (SQL LIKE) that were
        refused for now and may be claimed again at `now`, for keys that have not expired: a fallback
        whose first try could not go out (a team owner Slack could not look up) is tried again."""
        table = cast(Table, ReminderLedger.__table__)
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(table.c.dataos_user_id, table.c.key_name, table.c.expiration,
                                             table.c.step, table.c.slack_user_id).where(
                table.c.dataos_user_id == dataos_user_id, table.c.step.like(step_like), table.c.state == "failed",
                table.c.expiration > now, or_(table.c.retry_at.is_(None), table.c.retry_at <= now)))
            return [((u, n, e), str(step), str(user or "")) for u, n, e, step, user in rows]

    async def ledger(self) -> list[dict[str, Any]]:
        """Every ledger row (for admins and tests)."""
        columns = ("dataos_user_id", "key_name", "expiration", "step", "state", "attempts", "channel", "ts",
                   "slack_user_id", "sent_at", "error", "retry_at", "claimed_at", "claimed_by")
        table = cast(Table, ReminderLedger.__table__)
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(*(table.c[c] for c in columns)))
            return [dict(zip(columns, row, strict=True)) for row in rows]

    async def ledger_states(self, since: datetime) -> dict[str, int]:
        """How many steps ended in each final state since `since` (for `/apikey admin stats`)."""
        table = cast(Table, ReminderLedger.__table__)
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(table.c.state, func.count()).where(table.c.sent_at >= since)
                                      .group_by(table.c.state))
            return {str(state): int(n) for state, n in rows}
