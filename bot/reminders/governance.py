"""The governance job (issue #28), every minute inside `apikey-bot serve`: approval requests that expired
are closed and their requesters told, approvers are reminded once halfway, approved keys that no replica
made yet are made and delivered (once), new-key notices nobody answered are told to the audit channel,
and once a week (from Monday 09:00 UTC) the digest goes to DIGEST_CHANNEL or AUDIT_CHANNEL. Each step is
claimed in the database, so replicas do each once."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from bot.identity import failure
from bot.policy.digest import gather
from bot.reminders.notices import escalate
from bot.slack.blocks.digest import digest_message
from bot.slack.workflows.request import finish_settled

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
INTERVAL_MINUTES = 1
DIGEST_MARK = "governance-digest"
STARTED_MARK = "governance-digest-since"
DIGEST_AT = time(9, 0)  # Mondays, UTC
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def this_weeks_digest(now: datetime) -> datetime:
    """The last Monday 09:00 UTC at or before `now`: each week's digest is due from then."""
    monday = (now - timedelta(days=now.weekday())).date()
    due = datetime.combine(monday, DIGEST_AT, tzinfo=UTC)
    return due if due <= now else due - timedelta(days=7)


async def weekly_digest(rt: Runtime) -> bool:
    """The week's digest, once across replicas. The first one is the first Monday 09:00 UTC after the bot
    first ran with a digest channel: a start-up (or an upgrade) posts nothing at once."""
    channel = rt.settings.digest_channel or rt.settings.audit_channel
    if not channel:
        return False
    now = rt.clock()
    started = await rt.marks.get_mark(STARTED_MARK)
    if started is None:
        await rt.marks.claim_mark(STARTED_MARK, now=now, older_than=_NEVER)
        return False
    due = this_weeks_digest(now)
    if due <= started:
        return False  # this week's was due before the digest existed here: the next one is the first
    mark = f"{DIGEST_MARK}:{due:%Y-%m-%d}"
    if await rt.marks.get_mark(mark) is not None:
        return False  # cheap: the week's digest went out
    digest = await gather(rt, now)
    if await rt.marks.claim_mark(mark, now=now, older_than=_NEVER) is None:
        return False  # another replica has it
    try:
        await rt.slack.chat_postMessage(channel=channel, unfurl_links=False, **digest_message(digest).kwargs())
    except Exception as exc:  # claimed once: not sent twice, and said why
        log.warning("could not post the weekly digest to %s: %s", channel, failure(exc))
        return False
    return True


async def governance_pass(rt: Runtime) -> None:
    """One pass; each step on its own (one failing does not stop the others)."""
    steps = (("expire requests", rt.approvals.expire_due), ("remind approvers", rt.approvals.remind_due),
             ("deliver approved keys", rt.approvals.deliver_pending), ("escalate notices", lambda: escalate(rt)),
             ("weekly digest", lambda: weekly_digest(rt)),
             ("complete workflow steps", lambda: finish_settled(rt)))
    for what, step in steps:
        if rt.slack_stopped is not None:
            return
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("governance: could not %s", what)


async def scheduled_governance(rt: Runtime) -> None:
    with rt.sweeping():
        try:
            await governance_pass(rt)
        except asyncio.CancelledError:
            log.warning("governance pass stopped by the shutdown; the next pass goes on")
