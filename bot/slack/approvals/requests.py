"""`/apikey requests` (your open requests with Cancel, and those waiting for your decision) and `/apikey
policy` (the rule that applies to you). The Home tab draws its section of requests itself (`bot.slack.home`)."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncRespond

from bot.app import Runtime
from bot.policy import PolicyUnavailable
from bot.slack.blocks.approvals import policy_message, requests_message
from bot.slack.blocks.common import text_message

log = logging.getLogger(__name__)


async def send_requests(rt: Runtime, slack_user: str, respond: AsyncRespond, *, notice: str | None = None) -> None:
    mine = await rt.approval_requests.open_requests(requester=slack_user)
    waiting = await rt.approvals.waiting_for(slack_user)
    message = requests_message(mine, waiting)
    if notice:
        message = type(message)(message.text, [text_message(notice).blocks[0], *message.blocks][:50])
    await respond(response_type="ephemeral", replace_original=False, **message.kwargs())


async def send_policy(rt: Runtime, slack_user: str, respond: AsyncRespond) -> None:
    try:
        personal = await rt.governance.rule(slack_user, "personal")
        team = await rt.governance.rule(slack_user, "team") if rt.governance.enabled else None
    except PolicyUnavailable as exc:
        await respond(response_type="ephemeral", **text_message(f":x: {exc}").kwargs())
        return
    message = policy_message(personal, team, source=rt.settings.policy_file if rt.governance.enabled else None)
    await respond(response_type="ephemeral", **message.kwargs())
