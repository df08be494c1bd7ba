"""When a Slack member is deactivated (`user_change` with `deleted: true`), the active admins get a DM
listing that person's DataOS keys with one button that revokes exactly those keys (asked to confirm,
each re-checked when pressed; keys made after the notice are left alone and named).

When they are reactivated (`user_change` without `deleted`), each of those notices is updated in place
("Ada was reactivated"), its Revoke all then refuses with that sentence, and the team ownership the
deactivation removed is restored (or the admins are told exactly what to re-add). What a deactivation
did is remembered for that (`bot.store.offboardings`)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.app import Runtime
from bot.dataos import DataOSError
from bot.domain.keys import exact_digest
from bot.identity import failure, profile_from_user
from bot.slack import tracked
from bot.slack.blocks.common import DAMAGED_BUTTON, Message, text_message
from bot.slack.common import active_admins, clicked_message, tell, update_message, user_id
from bot.slack.errors import explain
from bot.slack.key_buttons import (
    REVOKE_ALL_ACTION,
    offboarding_notice,
    parse_revoke_all,
    reactivated_notice,
    reactivated_text,
    revoke_all_result,
)
from bot.slack.teams.offboarding import leave_teams, rejoin_teams
from bot.store import Audit

log = logging.getLogger(__name__)


async def dataos_user_of(rt: Runtime, slack_user: dict[str, Any]) -> str | None:
    """The deactivated member's DataOS user: their explicit link, else their e-mail (persons only)."""
    profile = profile_from_user(slack_user)
    link = await rt.links.get_link(profile.user_id)
    if link is not None:
        return link.dataos_user_id
    if not profile.email:
        return None
    matches = await rt.directory.by_email(profile.email)
    persons = [u for u in matches if u.is_person]
    return persons[0].id if len(persons) == 1 else None


async def on_deactivated(rt: Runtime, slack_user: dict[str, Any]) -> None:
    if not rt.admins:
        return
    who = str(slack_user.get("id") or "")
    dataos_user = await dataos_user_of(rt, slack_user)
    if dataos_user is None:
        log.info("deactivated member %s has no DataOS user; admins not told", who)
        return
    await rt.offboardings.note(who, dataos_user_id=dataos_user)
    try:
        tokens = [t for t in await rt.dataos.list_tokens(dataos_user) if t.expiration > rt.clock()]
    except DataOSError as exc:
        log.warning("could not list the keys of deactivated %s: %s", who, exc)
        return
    if not tokens:
        return
    notice = offboarding_notice(who, dataos_user, tokens)
    # Never only to a deactivated admin: the active ones (`apikey-bot doctor` fails when there is none).
    for admin in await active_admins(rt.profiles, rt.admins):
        try:
            posted = await rt.slack.chat_postMessage(channel=admin, **notice.kwargs())
        except Exception as exc:
            log.warning("could not tell admin %s about %s: %s", admin, who, failure(exc))
            continue
        # Where it landed (the DM's D… id, not the admin's U… id): updated in place at a reactivation.
        await rt.offboardings.note(who, notices=[(str(posted.get("channel")), str(posted.get("ts")))])


async def on_reactivated(rt: Runtime, who: str) -> bool:
    """`who` is active in Slack again. If a deactivation was recorded, undo what it did: its notices are
    updated in place, their teams restored (or the admins told what to re-add). True if there was one."""
    now = rt.clock()
    record = await rt.offboardings.reactivated(who, now)  # one caller, across replicas
    if record is None:
        return False
    restored, left = await rejoin_teams(rt, who, record.teams)
    notice = reactivated_notice(who, now, restored=restored)
    for channel, ts in record.notices:
        await update_message(rt.slack, channel, ts, notice)
    await rt.keys.trail.record(Audit(at=now, actor_slack_id=who, action="reactivated", outcome="ok",
                                     dataos_user_id=record.dataos_user_id,
                                     detail=f"teams restored: {' '.join(restored) or 'none'}"[:500]))
    if left:
        text = (f":arrows_counterclockwise: {reactivated_text(who, now)} Their deactivation removed them from "
                "teams that could not be given back to them:\n" + "\n".join(f"• {line}" for line in left))
        for admin in await active_admins(rt.profiles, rt.admins):
            await rt.dm(admin, text)
    return True


async def _reactivated_at(rt: Runtime, who: str) -> datetime | None:
    """When `who` was reactivated, if they were: the record says so, or Slack does (the event that said so
    was missed, e.g. during a deploy: then it is handled now)."""
    record = await rt.offboardings.get(who)
    if record is not None and record.reactivated_at is not None:
        return record.reactivated_at
    try:
        profile = await rt.profiles.get(who)
    except Exception as exc:  # Slack cannot say: the record stands
        log.warning("could not look up %s before revoking their keys: %s", who, failure(exc))
        return None
    if profile is None or profile.deleted:
        return None
    await on_reactivated(rt, who)
    return rt.clock()


async def revoke_all(rt: Runtime, body: dict[str, Any]) -> None:
    """Revoke exactly the keys the pressed button listed (each re-checked, name and expiration); keys
    made after the notice are named and left alone. The notice keeps the buttons not yet pressed, and
    this one too if DataOS failed on some key (pressing it again is safe: the revoked ones are gone)."""
    actor = user_id(body)
    channel, ts = clicked_message(body)
    action = (body.get("actions") or [{}])[0]
    if actor not in rt.admins:  # a replayed button: answered to the clicker only, the notice stays as it is
        await tell(rt.slack, channel, actor, ":no_entry: Only platform admins can revoke these keys. Nothing was done.")
        return
    request = parse_revoke_all(str(action.get("value") or ""))
    if request is None:
        await tell(rt.slack, channel, actor, f"{DAMAGED_BUTTON} `/apikey admin keys` lists their keys "
                   "with a Revoke button each.")
        return
    back = await _reactivated_at(rt, request.who)
    if back is not None:  # they are back: their keys are theirs again
        await tell(rt.slack, channel, actor, f":no_entry: {reactivated_text(request.who, back)} Their keys were "
                   "left alone; nothing was revoked.")
        return
    try:
        tokens = await rt.dataos.list_tokens(request.dataos_user)
    except DataOSError as exc:
        await tell(rt.slack, channel, actor, ":x: " + explain(exc, doing="listing their keys") + " Press the "
                   "button again later.")
        return
    listed = set(request.digests)
    now_there = {exact_digest(t.name, t.expiration): t for t in tokens}
    revoked: list[str] = []
    left = [t.name for d, t in now_there.items() if d not in listed and t.expiration > rt.clock()]
    failed: list[str] = []
    gone = sum(1 for d in listed if d not in now_there)
    for digest in request.digests:
        token = now_there.get(digest)
        if token is None:
            continue
        try:
            done = await rt.keys.revoke_exact(request.dataos_user, token.name, token.expiration, actor=actor,
                                              detail=f"offboarding {request.who}", action="admin revoke")
        except DataOSError:
            failed.append(token.name)
            continue
        if done.outcome == "revoked":
            revoked.append(done.name)
        elif done.outcome == "gone":
            gone += 1
        else:
            left.append(done.name)
    result = revoke_all_result(actor, request, revoked=revoked, gone=gone, left=left, failed=failed)
    pressed = str(action.get("block_id") or "")
    shown_before = (body.get("message") or {}).get("blocks") or []
    kept = [b for b in shown_before if isinstance(b, dict) and (failed or b.get("block_id") != pressed)]
    message = text_message(result)
    await update_message(rt.slack, channel, ts, Message(message.text, (kept + message.blocks)[-50:]))


async def remember_member(rt: Runtime, user: dict[str, Any]) -> None:
    """Keep the Slack directory (reminder audience) and the profile cache current between walks."""
    profile = profile_from_user(user)
    rt.profiles.remember(profile)
    rt.resolver.forget(profile.user_id)
    try:
        await rt.slack_directory.apply(profile)
    except Exception as exc:  # the next discovery's walk puts it right
        log.warning("could not record a change of Slack member %s: %s", profile.user_id, type(exc).__name__)


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.event("team_join")
    @app.event("user_change")
    async def on_member(event: dict[str, Any]) -> None:
        user = event.get("user")
        if not isinstance(user, dict):
            return
        async with rt.work():
            await remember_member(rt, user)
            who = str(user.get("id") or "")
            if event.get("type") == "user_change" and user.get("deleted") is True:
                try:
                    await rt.offboardings.deactivated(who, rt.clock())
                except Exception:  # the notice still goes out; a reactivation then has nothing to undo
                    log.exception("could not record the deactivation of %s", who)
                try:
                    await on_deactivated(rt, user)
                except Exception:
                    log.exception("offboarding notice failed")
                try:
                    await leave_teams(rt, who)
                except Exception:
                    log.exception("removing a deactivated member from their teams failed")
            elif event.get("type") == "user_change" and who:
                try:
                    await on_reactivated(rt, who)
                except Exception:
                    log.exception("undoing the deactivation of %s failed", who)

    @app.action(REVOKE_ALL_ACTION)
    @tracked(rt, "action", "admin_revoke_all")
    async def on_revoke_all(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await revoke_all(rt, body)
