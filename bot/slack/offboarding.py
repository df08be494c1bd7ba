"""When a Slack member is deactivated (`user_change` with `deleted: true`), admins get a DM listing that
person's DataOS keys with one button that revokes exactly those keys (asked to confirm, each re-checked
when pressed; keys made after the notice are left alone and named)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.app import Runtime
from bot.dataos import DataOSError
from bot.domain.keys import exact_digest
from bot.identity import failure, profile_from_user
from bot.slack import tracked
from bot.slack.blocks.common import DAMAGED_BUTTON, Message, text_message
from bot.slack.common import clicked_message, tell, update_message, user_id
from bot.slack.errors import explain
from bot.slack.key_buttons import REVOKE_ALL_ACTION, offboarding_notice, parse_revoke_all, revoke_all_result
from bot.slack.teams.offboarding import leave_teams

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
    try:
        tokens = [t for t in await rt.dataos.list_tokens(dataos_user) if t.expiration > rt.clock()]
    except DataOSError as exc:
        log.warning("could not list the keys of deactivated %s: %s", who, exc)
        return
    if not tokens:
        return
    notice = offboarding_notice(who, dataos_user, tokens)
    for admin in sorted(rt.admins):
        try:
            await rt.slack.chat_postMessage(channel=admin, **notice.kwargs())
        except Exception as exc:
            log.warning("could not tell admin %s about %s: %s", admin, who, failure(exc))


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
            if event.get("type") == "user_change" and user.get("deleted") is True:
                try:
                    await on_deactivated(rt, user)
                except Exception:
                    log.exception("offboarding notice failed")
                try:
                    await leave_teams(rt, str(user.get("id") or ""))
                except Exception:
                    log.exception("removing a deactivated member from their teams failed")

    @app.action(REVOKE_ALL_ACTION)
    @tracked(rt, "action", "admin_revoke_all")
    async def on_revoke_all(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await revoke_all(rt, body)
