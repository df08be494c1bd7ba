"""Housekeeping: one job, independent of reminders, that keeps each table to its retention, tries
again the leak DMs Slack refused, and carries out the revocations renewals scheduled (as the reminder
sweep does too: their claims keep each to one pass). It runs inside `apikey-bot serve` (at start-up, then every
`INTERVAL_MINUTES`), with REMINDERS_ENABLED=false too.

Retention (documented in SECURITY.md):
- `slack_events` (Events API ids, to handle each event once across replicas): `EVENT_MEMORY`, 6 hours;
  Slack retries a delivery for a few minutes at most.
- `idempotency_keys` (one per form submission): `IDEMPOTENCY_MEMORY`, 7 days; a double submit comes
  within seconds, and Slack forms expire long before.
- `leak_reports` and their `leak_dms`: `LEAK_REPORT_MEMORY`, 30 days after the key was last seen
  pasted; a report is news again after a day anyway (`leak_dms.REPEAT_WITHIN`).
- `approval_requests` (and where each was posted): `APPROVAL_MEMORY`, 90 days after the decision (an
  approved one only once its key's delivery is settled); the audit trail keeps the story.
- `key_notices` (and their messages): `NOTICE_MEMORY`, 30 days after the key expired.
- `minted_keys` (keys made through a self-link): a day after the key itself expired; an expired key
  neither proves a link nor can be revoked.
- `offboardings` (what a deactivation did, for a reactivation to undo): `OFFBOARDING_MEMORY`, 30 days
  after the member was reactivated; an open one (still deactivated) is kept.
- `workflow_runs` (Workflow Builder step executions, handled once): `WORKFLOW_MEMORY`, 30 days after the
  step started (one still waiting for an approval request is kept: the request completes it).
- `audit_log` is kept: it is the record of who did what.

It also asks Slack for the members of every user group that owns a team, so someone who joins or leaves
one is told to the team even when nobody acts for it (`bot.slack.teams.group_watch`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.slack.leak_dms import retry_failed
from bot.slack.revocations.due import carry_out_due, claimer
from bot.slack.teams.group_watch import watch_groups

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
INTERVAL_MINUTES = 10
EVENT_MEMORY = timedelta(hours=6)
IDEMPOTENCY_MEMORY = timedelta(days=7)
LEAK_REPORT_MEMORY = timedelta(days=30)
APPROVAL_MEMORY = timedelta(days=90)
NOTICE_MEMORY = timedelta(days=30)
MINTED_MEMORY = timedelta(days=1)
OFFBOARDING_MEMORY = timedelta(days=30)
WORKFLOW_MEMORY = timedelta(days=30)


@dataclass
class Tidied:
    events: int = 0
    idempotency: int = 0
    leak_reports: int = 0
    leak_dms_delivered: int = 0
    governance: int = 0
    minted_keys: int = 0
    groups_watched: int = 0
    revoked_later: int = 0
    failed: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = (f"pruned {self.events} event ids, {self.idempotency} idempotency claims, {self.leak_reports} "
                f"leak reports, {self.governance} old approval requests and notices, {self.minted_keys} expired keys "
                f"made through self-links; {self.leak_dms_delivered} leak DMs delivered on a retry; "
                f"{self.revoked_later} scheduled revocations carried out; {self.groups_watched} owning user groups "
                "compared")
        return text + (f"; could not: {', '.join(self.failed)}" if self.failed else "")


async def housekeeping(rt: Runtime) -> Tidied:
    """One pass. Each step on its own: one failing (the database busy) does not stop the others."""
    now = rt.clock()
    done = Tidied()
    try:
        done.events = await rt.events.prune_events(older_than=now - EVENT_MEMORY)
    except Exception as exc:
        done.failed.append(f"prune event ids ({type(exc).__name__})")
    try:
        done.idempotency = await rt.idempotency.prune_idempotency(older_than=now - IDEMPOTENCY_MEMORY)
    except Exception as exc:
        done.failed.append(f"prune idempotency claims ({type(exc).__name__})")
    try:
        done.leak_reports = await rt.leak_reports.prune(older_than=now - LEAK_REPORT_MEMORY)
    except Exception as exc:
        done.failed.append(f"prune leak reports ({type(exc).__name__})")
    try:
        await rt.offboardings.prune(older_than=now - OFFBOARDING_MEMORY)
    except Exception as exc:
        done.failed.append(f"prune offboarding records ({type(exc).__name__})")
    try:
        done.governance = (await rt.approval_requests.prune(older_than=now - APPROVAL_MEMORY)
                           + await rt.notices.prune(expired_before=now - NOTICE_MEMORY)
                           + await rt.workflow_runs.prune_runs(older_than=now - WORKFLOW_MEMORY))
    except Exception as exc:
        done.failed.append(f"prune approval requests, notices and workflow runs ({type(exc).__name__})")
    try:
        done.leak_dms_delivered = await retry_failed(rt)
    except Exception as exc:
        done.failed.append(f"retry leak DMs ({type(exc).__name__})")
    try:
        done.minted_keys = await rt.self_links.minted.prune(older_than=now - MINTED_MEMORY)
    except Exception as exc:
        done.failed.append(f"prune keys made through self-links ({type(exc).__name__})")
    try:
        done.groups_watched = await watch_groups(rt)
    except Exception as exc:
        done.failed.append(f"compare owning user groups ({type(exc).__name__})")
    try:
        # Here too, not only in the reminder sweep: a renewal's promise holds with REMINDERS_ENABLED=false.
        carried = await carry_out_due(rt, worker=claimer(), now=now)
        done.revoked_later = carried.revoked
        done.failed += [f"scheduled revocation ({f})" for f in carried.failures]
    except Exception as exc:
        done.failed.append(f"carry out scheduled revocations ({type(exc).__name__})")
    (log.warning if done.failed else log.info)("housekeeping: %s", done.line())
    return done
