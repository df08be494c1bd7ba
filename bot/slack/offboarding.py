"""When a Slack member is deactivated (`user_change` with `deleted: true`), admins get a DM listing that
person's DataOS keys with one button that revokes them all (asked to confirm, re-checked when pressed)."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, SectionBlock

from bot.app import Runtime
from bot.dataos import DataOSError, DataOSNotFound
from bot.identity import failure, profile_from_user
from bot.slack import blocks, tracked
from bot.slack.common import clicked_message, update_message, user_id
from bot.store import Audit
from bot.text import shown

log = logging.getLogger(__name__)
REVOKE_ALL_ACTION = "admin_revoke_all"


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
    names = ", ".join(f"`{shown(t.name, 60)}`" for t in tokens[:30]) + (" …" if len(tokens) > 30 else "")
    text = (f":bust_in_silhouette: <@{who}> was deactivated in Slack and still has {len(tokens)} DataOS API "
            f"key{'s' if len(tokens) != 1 else ''} (DataOS user `{shown(dataos_user)}`): {names}.")
    value = json.dumps({"u": dataos_user, "s": who}, separators=(",", ":"))
    message_blocks = [
        SectionBlock(text=text).to_dict(),
        ActionsBlock(elements=[ButtonElement(
            text=f"Revoke all {len(tokens)}", action_id=REVOKE_ALL_ACTION, value=value, style="danger",
            confirm=ConfirmObject(title="Revoke all their keys?", text="Every one stops working at once.",
                                  confirm="Revoke all", deny="Not now", style="danger"))]).to_dict(),
    ]
    for admin in sorted(rt.admins):
        try:
            await rt.slack.chat_postMessage(channel=admin, text=text, blocks=message_blocks)
        except Exception as exc:
            log.warning("could not tell admin %s about %s: %s", admin, who, failure(exc))


async def revoke_all(rt: Runtime, body: dict[str, Any]) -> None:
    actor = user_id(body)
    channel, ts = clicked_message(body)

    async def update(text: str) -> None:
        await update_message(rt.slack, channel, ts, blocks.text_message(text))

    if actor not in rt.admins:
        await update(":no_entry: Only platform admins can revoke these keys. Nothing was done.")
        return
    try:
        data = json.loads(str((body.get("actions") or [{}])[0].get("value") or ""))
        dataos_user, who = str(data["u"]), str(data["s"])
        tokens = await rt.dataos.list_tokens(dataos_user)
    except (ValueError, KeyError, TypeError):
        await update(blocks.DAMAGED_BUTTON)
        return
    except DataOSError as exc:
        await update(f":x: Could not list the keys ({shown(str(exc), 200)}). Nothing was changed; press the button "
                     "again later.")
        return
    revoked, failed = 0, 0
    for token in tokens:
        try:
            await rt.keys.delete_token(dataos_user, token.name, actor=actor)
        except DataOSNotFound:
            continue
        except DataOSError:
            failed += 1
            continue
        revoked += 1
        await rt.keys.trail.record(Audit(at=rt.clock(), actor_slack_id=actor, action="admin revoke", outcome="ok",
                                         dataos_user_id=dataos_user, key_name=token.name,
                                         key_expiration=token.expiration, detail=f"offboarding {who}"))
    tail = f" {failed} could not be revoked; press again later." if failed else ""
    await update(f":wastebasket: <@{actor}> revoked {revoked} key{'s' if revoked != 1 else ''} of <@{who}> "
                 f"(DataOS user `{shown(dataos_user)}`).{tail}")


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

    @app.action(REVOKE_ALL_ACTION)
    @tracked(rt, "action", "admin_revoke_all")
    async def on_revoke_all(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await revoke_all(rt, body)
