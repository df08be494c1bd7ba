"""After a link: the people who were acting as that DataOS user until now are told, and so is the
audit channel. A link is a claim on someone's keys and reminders; it must never happen silently."""

from __future__ import annotations

import logging

from bot.app import Runtime
from bot.identity import failure
from bot.service import LinkResult
from bot.slack import blocks
from bot.store import Audit
from bot.text import shown

log = logging.getLogger(__name__)


def displaced_text(result: LinkResult) -> str:
    who = f"<@{result.slack_user_id}>"
    by = (f"Slack user {who} linked themselves" if result.actor == result.slack_user_id
          else f"A platform admin (<@{result.actor}>) linked Slack user {who}")
    return (f":warning: {by} to your DataOS user `{shown(result.dataos_user_id)}`: if this was not you, "
            "revoke your keys and tell your admins. Expiry reminders for that user's keys now go to them, "
            "not to you.")


async def tell_others(rt: Runtime, result: LinkResult) -> None:
    text = displaced_text(result)
    for other, how in result.others:
        rt.resolver.forget(other)
        try:
            await rt.slack.chat_postMessage(channel=other, **blocks.text_message(text).kwargs())
            outcome = "told"
        except Exception as exc:
            log.warning("could not tell %s about a link to their DataOS user: %s", other, failure(exc))
            outcome = "not told"
        await rt.keys.trail.record(Audit(
            at=rt.clock(), actor_slack_id=result.actor, action="link takeover", outcome=outcome,
            dataos_user_id=result.dataos_user_id, detail=f"slack user {result.slack_user_id} over {other} ({how})"))
