"""Telling people that a scheduled revocation did not happen: the team channel (or, when the channel
refuses the bot or another organisation can read it, each of the team's admitted owners by DM), or the
people acting as that DataOS user, and the active admins. Each message is claimed in the reminder ledger
before it is posted and its outcome recorded once (step `revoke:<id>:<recipient>`), so no one gets it
twice; a recipient Slack refused for now, or whom Slack could not look up, is tried again by the next pass
while the key lives.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.dataos import DataOSError, DataOSNotFound
from bot.delivery import CHANNEL_UNREACHABLE, fate_of, retry_after
from bot.service import same_second
from bot.slack.blocks.common import Message
from bot.slack.blocks.revocations import overdue_revocation_message
from bot.slack.common import active_admins
from bot.slack.links import people_of
from bot.slack.revocations import MAX_ATTEMPTS
from bot.slack.teams.channel import shared_now, tell_admins_shared
from bot.store import KeyId, Outcome, Revocation
from bot.store.ledger import FINAL_STATES

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
#: A notice claimed and never confirmed (its sender died) may be claimed again after this.
NOTICE_LEASE = timedelta(minutes=10)


def _key(item: Revocation) -> KeyId:
    # (rows from before exact keys have no expiration: the schedule's own time stands in for it)
    return item.dataos_user_id, item.key_name, item.key_expiration or item.revoke_at


def _step(item: Revocation, recipient: str) -> str:
    return f"revoke:{item.id}:{recipient}"


async def post_once(rt: Runtime, key: KeyId, step: str, to: str, message: Message, worker: str) -> tuple[str, str]:
    """Claim (key, step) for `to` and post `message` there once: (fate, Slack's code). The fate is `taken`
    when someone else has it or had it (nothing posted), else `sent`, `failed` (tried again later),
    `undeliverable` or `unknown` (never posted again)."""
    if rt.slack_stopped is not None:
        return "failed", "token_refused"
    now = rt.clock()
    claimed = await rt.ledger.claim_reminders([(key, step, to)], now=now, worker=worker, lease=NOTICE_LEASE)
    if (key, step) not in claimed:
        return "taken", ""
    try:
        response = await rt.slack.chat_postMessage(channel=to, unfurl_links=False, unfurl_media=False,
                                                   **message.kwargs())
    except BaseException as exc:  # a shutdown too: what Slack may have is recorded, never posted twice
        fate, code = fate_of(exc)
        if fate == "token":
            rt.stop_slack(f"{code} on chat.postMessage", code)
        state = fate if fate in ("undeliverable", "unknown") else "failed"
        rt.outcomes.add([Outcome(key, step, state, error=code, at=rt.clock(),
                                 retry_at=retry_after(claimed[key, step], rt.clock()) if state == "failed" else None)])
        await rt.outcomes.flush(rt.ledger)
        if not isinstance(exc, Exception):
            raise
        log.warning("could not tell %s that a scheduled revocation did not happen: %s", to, code)
        return state, code
    rt.outcomes.add([Outcome(key, step, "sent", str(response.get("channel")), str(response.get("ts")),
                             at=rt.clock())])
    await rt.outcomes.flush(rt.ledger)
    return "sent", ""


async def admitted(rt: Runtime, people: list[str], *, allow_guests: bool | None = None) -> list[str]:
    """Of `people`, those who may be told now. One Slack could not look up just now is left for the next
    pass (not skipped for good); a deactivated account, a bot, a guest (for a team) or an outsider is."""
    found: list[str] = []
    for person in dict.fromkeys(people):
        denied = await rt.resolver.admission(person, allow_guests=allow_guests)
        if denied is None:
            found.append(person)
        elif denied.reason == "unavailable":
            log.info("could not look up %s just now; they are told on a later pass", person)
    return found


async def still_there(rt: Runtime, item: Revocation) -> bool:
    """Is the key the schedule named still in DataOS? When DataOS cannot say, it is taken to be (telling
    someone about a key that is gone costs less than not telling about one that works)."""
    if item.key_expiration is None:
        return True
    try:
        token = await rt.dataos.get_token(item.dataos_user_id, item.key_name)
    except DataOSNotFound:
        return False
    except DataOSError:
        return True
    return same_second(token.expiration, item.key_expiration)


async def tell(rt: Runtime, item: Revocation, worker: str) -> list[str]:
    """Tell the key's owners and the admins that `item` did not happen; those told by this call."""
    key = _key(item)
    team = await rt.teams.team_of(item.dataos_user_id)
    message = overdue_revocation_message(item.dataos_user_id, item.key_name, item.key_expiration, item.revoke_at,
                                         item.requested_by, team=team is not None,
                                         attempts=min(item.attempts, MAX_ATTEMPTS),
                                         error=item.error)
    told: list[str] = []
    people: list[str]
    if team is not None and await shared_now(rt, team):
        # Another organisation reads the team channel (Slack Connect): its owners hear by DM, the admins once.
        await tell_admins_shared(rt, team)
        people = await admitted(rt, await rt.teams.owners_of(team), allow_guests=False)
    elif team is not None:
        channel = team.channel_id
        step = _step(item, channel)
        state, code = (await rt.ledger.step_states(key, [step])).get(step, ("", None))
        if state not in FINAL_STATES:  # not yet, or refused for now: (again) once its back-off has passed
            state, code = await post_once(rt, key, step, channel, message, worker)
            if state == "sent":
                told.append(channel)
        # The channel refuses the bot for good: each owner hears by DM instead.
        unreachable = state == "undeliverable" and code in CHANNEL_UNREACHABLE
        people = await admitted(rt, await rt.teams.owners_of(team), allow_guests=False) if unreachable else []
    else:
        people = await admitted(rt, [item.requested_by, *await people_of(rt, item.dataos_user_id)])
    admins = await active_admins(rt.profiles, rt.admins)
    for person in dict.fromkeys([*people, *admins]):
        fate, _ = await post_once(rt, key, _step(item, person), person, message, worker)
        if fate == "sent":
            told.append(person)
    return told


async def tell_given_up(rt: Runtime, worker: str, now: datetime) -> int:
    """Each pass: for every revocation given up on whose key still lives, tell whoever has not been told
    yet (the ledger makes each notice once). A key found gone or replaced meanwhile ends the matter."""
    told = 0
    for item in await rt.revocations.given_up(now):
        if not await still_there(rt, item):
            await rt.revocations.settle(item.dataos_user_id, item.key_name, item.key_expiration or item.revoke_at)
            continue
        told += len(await tell(rt, item, worker))
    return told
