"""Every repository over one engine, for fixtures that stand where the bot's database is: a plain
container (no behaviour of its own), built as the Runtime builds its own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import (
    AuditLog,
    Database,
    IdempotencyClaims,
    KeySightings,
    LeakReports,
    Ledger,
    Links,
    Members,
    Preferences,
    ScheduledRevocations,
    SlackEvents,
    SweepMarks,
)


@dataclass(frozen=True)
class Repositories:
    engine: AsyncEngine
    database: Database
    audit_log: AuditLog
    idempotency: IdempotencyClaims
    sightings: KeySightings
    ledger: Ledger
    marks: SweepMarks
    revocations: ScheduledRevocations
    members: Members
    events: SlackEvents
    prefs: Preferences
    links: Links
    leak_reports: LeakReports


def repositories(engine: AsyncEngine) -> Repositories:
    return Repositories(engine, Database(engine), AuditLog(engine), IdempotencyClaims(engine), KeySightings(engine),
                        Ledger(engine), SweepMarks(engine), ScheduledRevocations(engine), Members(engine),
                        SlackEvents(engine), Preferences(engine), Links(engine), LeakReports(engine))
