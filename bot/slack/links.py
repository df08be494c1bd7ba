"""After a link: the people who were acting as that DataOS user until now are told, and so is the
audit channel. A link is a claim on someone's keys and reminders; it must never happen silently.

After a self-link, the DM has a button "This was not me": after a confirm, it ends that exact link and
revokes the key that made it. The button names the link (who, which DataOS user, when it was made, which
key; never a secret), only the person the DM was sent to may press it, and everything is checked again
before anything is done.
"""

from __future__ import annotations

import functools
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, SectionBlock

from bot.app import Runtime
from bot.dataos import DataOSError
from bot.domain.keys import key_ref
from bot.identity import Denied, failure
from bot.service import LinkResult
from bot.slack import tracked
from bot.slack.blocks.common import DAMAGED_BUTTON, Message, confirm_text, text_message
from bot.slack.common import clicked_message, tell, update_message, user_id
from bot.slack.home import publish_home
from bot.store import Audit, Link
from bot.text import shown

log = logging.getLogger(__name__)
NOT_ME_ACTION = "link_not_me"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def displaced_text(result: LinkResult) -> str:
    who = f"<@{result.slack_user_id}>"
    by = (f"Slack user {who} linked themselves" if result.actor == result.slack_user_id
          else f"A platform admin (<@{result.actor}>) linked Slack user {who}")
    what = ("press *This was not me* to end that link and revoke the key it was made with, then check your "
            "other keys and tell your admins" if _disownable(result) else
            "revoke your keys and tell your admins")
    return (f":warning: {by} to your DataOS user `{shown(result.dataos_user_id)}`: if this was not you, {what}. "
            "Expiry reminders for that user's keys now go to them, not to you.")


def _disownable(result: LinkResult) -> bool:
    return result.link is not None and result.link.method == "self" and result.link.proof is not None


def _micros(moment: datetime) -> int:
    """A stored time as whole microseconds: exact, so a button names one link and no other."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def not_me_value(link: Link, displaced: str) -> str:
    proof = link.proof
    assert proof is not None
    return json.dumps({"s": link.slack_user_id, "u": link.dataos_user_id, "c": _micros(link.created_at),
                       "k": key_ref(proof.key_name), "e": int(proof.expiration.timestamp()), "d": displaced},
                      separators=(",", ":"))


def displaced_message(result: LinkResult, displaced: str) -> Message:
    text = displaced_text(result)
    if not _disownable(result) or result.link is None:
        return text_message(text)
    button = ButtonElement(
        text="This was not me", action_id=NOT_ME_ACTION, value=not_me_value(result.link, displaced),
        style="danger", confirm=ConfirmObject(
            title="End this link?", confirm="End it and revoke", deny="Cancel", style="danger",
            text=confirm_text(f"<@{result.slack_user_id}> stops acting as `{shown(result.dataos_user_id, 80)}`, and "
                              f"the key that was used to link (*{shown(result.link.proof_key_name or '', 80)}*) is "
                              "revoked at once.")))
    return Message(text, [SectionBlock(text=text).to_dict(), ActionsBlock(elements=[button]).to_dict()])


async def tell_others(rt: Runtime, result: LinkResult) -> None:
    for other, how in result.others:
        rt.resolver.forget(other)
        try:
            await rt.slack.chat_postMessage(channel=other, **displaced_message(result, other).kwargs())
            outcome = "told"
        except Exception as exc:
            log.warning("could not tell %s about a link to their DataOS user: %s", other, failure(exc))
            outcome = "not told"
        await rt.keys.trail.record(Audit(
            at=rt.clock(), actor_slack_id=result.actor, action="link takeover", outcome=outcome,
            dataos_user_id=result.dataos_user_id, detail=f"slack user {result.slack_user_id} over {other} ({how})"))


def _parse(body: dict[str, Any]) -> dict[str, Any] | None:
    try:
        data = json.loads(str((body.get("actions") or [{}])[0].get("value") or ""))
        parsed = {"s": str(data["s"]), "u": str(data["u"]), "c": int(data["c"]), "k": str(data["k"]),
                  "e": int(data["e"]), "d": str(data["d"])}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return parsed if all(parsed[k] for k in ("s", "u", "k", "d")) else None


async def not_me(rt: Runtime, body: dict[str, Any]) -> None:
    clicker = user_id(body)
    channel, ts = clicked_message(body)
    data = _parse(body)
    if data is None:
        await update_message(rt.slack, channel, ts, text_message(DAMAGED_BUTTON))
        return
    linked, dataos_user = data["s"], data["u"]

    async def refuse(reason: str, text: str) -> None:
        await rt.keys.trail.record(Audit(at=rt.clock(), actor_slack_id=clicker, action="link not me",
                                         outcome=f"refused:{reason}", dataos_user_id=dataos_user,
                                         detail=f"slack user {linked}"))
        await tell(rt.slack, channel, clicker, text)

    # Only the person the DM was sent to, and only while they still act as that DataOS user themselves.
    identity = await rt.keys.identify(clicker) if clicker == data["d"] and clicker != linked else None
    if identity is None or isinstance(identity, Denied) or identity.dataos_user_id != dataos_user:
        await refuse("not displaced", ":no_entry: Only the person who was acting as that DataOS user can say this "
                     "link was not theirs to take. Nothing was changed.")
        return
    link = await rt.links.get_link(linked)
    proof = link.proof if link is not None else None
    if (link is None or proof is None or link.method != "self" or link.dataos_user_id != dataos_user
            or _micros(link.created_at) != data["c"] or key_ref(proof.key_name) != data["k"]
            or int(proof.expiration.timestamp()) != data["e"]):
        await update_message(rt.slack, channel, ts, text_message(
            f"The link of <@{shown(linked, 32)}> to `{shown(dataos_user)}` named here has already ended (or was made "
            "again since). Nothing was changed. `/apikey whoami` shows who acts as your DataOS user now."))
        return
    await rt.self_links.end(link, "not me", actor=clicker, tell=True)
    outcome: str
    try:
        outcome = (await rt.keys.revoke_exact(dataos_user, proof.key_name, proof.expiration, actor=clicker,
                                              detail=f"not me: link of {linked}")).outcome
    except DataOSError as exc:
        log.warning("could not revoke the key a disowned link was made with: %s", exc)
        outcome = "failed"
    key = f"*{shown(proof.key_name)}*"
    revoked = {"revoked": f"the key it was made with ({key}) was revoked",
               "gone": f"the key it was made with ({key}) was already gone",
               "changed": f"the key it was made with ({key}) is gone (another key now has its name, and was left "
                          "alone)",
               "failed": f"the key it was made with ({key}) could not be revoked just now: revoke it with "
                         "`/apikey revoke`"}[outcome]
    await update_message(rt.slack, channel, ts, text_message(
        f":white_check_mark: <@{shown(linked, 32)}> no longer acts as `{shown(dataos_user)}`, and {revoked}. "
        "Check your other keys (`/apikey list`) and tell your admins."))


def register(app: AsyncApp, rt: Runtime) -> None:
    rt.self_links.after_end = functools.partial(publish_home, rt)

    @app.action(NOT_ME_ACTION)
    @tracked(rt, "action", "link_not_me")
    async def on_not_me(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await not_me(rt, body)


async def people_of(rt: Runtime, dataos_user: str) -> list[str]:
    """The Slack people acting as DataOS user `dataos_user` (by link or e-mail); none for an application
    user, or one DataOS cannot tell about just now."""
    try:
        user = await rt.directory.get(dataos_user)
        if user is None:
            user = await rt.dataos.get_user(dataos_user)
    except DataOSError:
        return []
    if not user.is_person:
        return []
    return [slack_id for slack_id, _ in await rt.resolver.others_mapped(user, exclude="")]
