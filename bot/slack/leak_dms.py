"""The DMs about a pasted key: what they say, sending them, and sending again those Slack refused.

Each DM is claimed in `leak_dms` before it is sent and its outcome recorded after (`bot.store.leaks`):
a report counts as told only once one was delivered, a refused one is tried again (by the next paste of
the key, or by housekeeping), and one whose outcome is unknown is never sent twice. A team channel that
refuses the bot for good is `refused`: its owners and the admins are told by DM instead.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, ContextBlock, SectionBlock

from bot.delivery import CHANNEL_UNREACHABLE
from bot.domain.keys import key_ref
from bot.identity import slack_error
from bot.slack.blocks.common import Message, confirm_text, render_id, slack_date, text_object
from bot.slack.common import active_admins
from bot.store import Audit
from bot.store.leaks import Report
from bot.text import shown

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
REVOKE_ACTION = "leak_revoke"
RENEW_ACTION = "leak_renew"
KEEP_ACTION = "leak_keep"
#: The same key pasted again within this time of the paste that opened its report updates the DMs
#: sent then instead of sending new ones; repeats do not move it.
REPEAT_WITHIN = timedelta(days=1)


async def deliver(rt: Runtime, report: Report, recipients: list[str], now: datetime) -> list[str]:
    """DM each of `recipients` (claimed) about `report` and record each outcome; those delivered.
    Slack refusing is `failed` (tried again later); no answer at all is `unknown` (never sent twice). A
    team channel that refuses the bot for good (`CHANNEL_UNREACHABLE`) is `refused`, and the report goes
    to each admitted owner of the team by DM and to the admins instead."""
    if not recipients:
        return []
    team = await rt.teams.team_of(report.dataos_user_id)
    link = await _permalink(rt, report.channel, report.message_ts)
    delivered: list[str] = []
    unreachable: str | None = None
    for person in recipients:
        # An application user's team hears in its channel (a channel id, not a person, is the recipient).
        in_channel = person.startswith(("C", "G"))
        if team is not None and not in_channel and not await _may_be_told(rt, report, person):
            continue
        message = leak_message(report.key_name, report.dataos_user_id, report.channel or "", report.poster or "",
                               link, report.key_expiration, renew=not report.to_admins, team=team is not None,
                               instead_of=None if in_channel or team is None else team.channel_id)
        try:
            # No preview of the linked message: it holds the key.
            response = await rt.slack.chat_postMessage(channel=person, unfurl_links=False, unfurl_media=False,
                                                       **message.kwargs())
        except SlackApiError as exc:
            code = slack_error(exc)
            log.warning("leak watch: could not DM %s: %s", person, code)
            gone = in_channel and code in CHANNEL_UNREACHABLE
            await rt.leak_reports.finish(report.fingerprint, person, state="refused" if gone else "failed", now=now)
            unreachable = person if gone else unreachable
            continue
        except Exception as exc:  # sent or not, nobody knows: never sent twice
            log.warning("leak watch: no answer to the DM to %s (%s)", person, type(exc).__name__)
            await rt.leak_reports.finish(report.fingerprint, person, state="unknown", now=now)
            continue
        delivered.append(person)
        await rt.leak_reports.finish(report.fingerprint, person, state="sent", now=now,
                                     channel=str(response.get("channel") or ""), ts=str(response.get("ts") or ""))
    if team is not None and unreachable is not None:
        # The team channel will not take it: the owners (each claimed on its own) and the admins hear by DM.
        people = [*await rt.teams.owners_of(team), *await active_admins(rt.profiles, rt.admins)]
        claimed = await rt.leak_reports.claim(report.fingerprint, [p for p in people if p != unreachable], now)
        delivered += await deliver(rt, report, claimed, now)
    return delivered


async def _may_be_told(rt: Runtime, report: Report, person: str) -> bool:
    """An owner of a team may hear of its leaked key when admitted now (no guest, outsider, deactivated
    account or bot); one Slack cannot look up just now is `failed`, so housekeeping tries again."""
    if person in rt.admins:
        return True
    denied = await rt.resolver.admission(person, allow_guests=False)
    if denied is None:
        return True
    state = "failed" if denied.reason == "unavailable" else "refused"
    await rt.leak_reports.finish(report.fingerprint, person, state=state, now=rt.clock())
    return False


async def retry_failed(rt: Runtime) -> int:
    """Housekeeping: DM again whoever Slack refused a leak DM to, while the report lasts."""
    now = rt.clock()
    delivered = 0
    for report, recipients in await rt.leak_reports.failed(now=now, within=REPEAT_WITHIN):
        claimed = await rt.leak_reports.claim(report.fingerprint, recipients, now)
        if sent := await deliver(rt, report, claimed, now):
            delivered += len(sent)
            await rt.keys.trail.record(Audit(
                at=now, actor_slack_id=report.poster or "", action="leak",
                outcome="admins told" if report.to_admins else "owner told", dataos_user_id=report.dataos_user_id,
                key_name=report.key_name, key_expiration=report.key_expiration,
                detail=f"channel {report.channel}; told {' '.join(sent)} on a retry"))
    return delivered


async def _permalink(rt: Runtime, channel: str | None, ts: str | None) -> str | None:
    if not channel or not ts:
        return None
    try:
        response = await rt.slack.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return None
    link = response.get("permalink")
    return str(link) if isinstance(link, str) and link.startswith("https://") else None


async def append(rt: Runtime, channel: str, ts: str, note: str) -> None:
    """Tell the recipient of a leak DM already delivered, as a reply in its thread (its buttons stay)."""
    try:
        await rt.slack.chat_postMessage(channel=channel, thread_ts=ts, text=note)
    except SlackApiError as exc:
        log.warning("leak watch: could not update the DM %s/%s: %s", channel, ts, slack_error(exc))


def leak_value(owner: str, name: str, expiration: datetime | None) -> str:
    stamp = int(expiration.timestamp()) if expiration else 0
    return json.dumps({"u": owner, "k": key_ref(name), "e": stamp}, separators=(",", ":"))


def leak_message(name: str, owner: str, channel: str, poster: str, link: str | None, expiration: datetime | None,
                 *, renew: bool, team: bool = False, instead_of: str | None = None) -> Message:
    """The report of a pasted key; `instead_of`: the team channel that would not take it (this is a DM)."""
    where = f"<#{shown(channel, 32)}>" + (f" (<{link}|the message>)" if link else "")
    expires = (f" It expires {slack_date(expiration)}." if expiration else "")
    whose = ("Your DataOS API key" if renew and not team else
             f"The DataOS API key of {'application user ' if team else ''}`{shown(owner)}`")
    text = (f":rotating_light: {whose} *{shown(name)}* was posted in {where} by <@{shown(poster, 32)}>, where "
            f"others can read it.{expires} Anyone who copied it can act as that DataOS user until it is revoked.")
    value = leak_value(owner, name, expiration)
    buttons = [ButtonElement(text="Revoke now", action_id=REVOKE_ACTION, value=value, style="danger",
                             confirm=ConfirmObject(title="Revoke this key?", text=confirm_text(
                                 f"*{shown(name, 80)}* stops working at once, everywhere."), confirm="Revoke",
                                 deny="Not yet", style="danger"))]
    if renew and expiration is not None:  # without the pasted key's expiration the old key is not named exactly
        buttons.append(ButtonElement(text="Renew and revoke", action_id=RENEW_ACTION, value=value, style="primary"))
    buttons.append(ButtonElement(text="Keep" if team else "I know, keep it", action_id=KEEP_ACTION, value=value))
    context = "The key itself is not shown here or kept by the bot."
    if team:
        context += " The buttons are for the team's owners."
    if instead_of:
        context = (f"Sent by DM to the team's owners and the platform admins: its channel <#{shown(instead_of, 32)}> "
                   f"does not take the bot's posts. {context}")
    return Message(f"A DataOS API key ({shown(name)}) was posted where others can read it", [
        b.to_dict() for b in (
            SectionBlock(text=text),
            ActionsBlock(block_id=f"leak:{render_id()}", elements=buttons),
            ContextBlock(elements=[text_object(context)]),
        )])
