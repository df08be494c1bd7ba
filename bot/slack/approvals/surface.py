"""Approvals as Slack shows them: the request in APPROVAL_CHANNEL (or, without one or when it refuses, in
each approver's DM), updated in place as it is decided; the requester's DMs; the key, privately.

Every message posted is recorded (channel and ts) by the service, so that `chat.update` edits the bot's
own messages only; the key itself only ever goes in an ephemeral message in the requester's DM."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.approvals import Delivered, Event
from bot.dataos import Token
from bot.delivery import fate_of
from bot.domain.key_policy import describe_approvers
from bot.identity import failure, slack_error
from bot.policy.governance import MAX_APPROVER_DMS
from bot.slack.blocks.approvals import request_message, requester_text
from bot.slack.blocks.keys import secret_message
from bot.slack.blocks.teams import created_line, team_secret_message
from bot.slack.owners import act_as
from bot.store.approvals import Posted, Request

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)


class SlackApprovals:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def post(self, request: Request, *, approvers: list[str], deciders: str,
                   reminder: bool = False) -> list[Posted]:
        message = request_message(request, deciders=deciders, reminder=reminder)
        channel = self.rt.settings.approval_channel
        if channel:
            try:
                answer = await self.rt.slack.chat_postMessage(channel=channel, unfurl_links=False, **message.kwargs())
                return [Posted(request.id, str(answer["channel"]), str(answer["ts"]), channel)]
            except Exception as exc:  # the approvers still hear of it, by DM
                log.warning("could not post approval request %s in %s (%s); sending it to the approvers by DM",
                            request.id, channel, failure(exc))
        posted: list[Posted] = []
        for approver in approvers[:MAX_APPROVER_DMS]:
            if await self.rt.resolver.admission(approver, allow_guests=False) is not None:
                continue  # a guest, an outsider or a deactivated account decides nothing
            try:
                answer = await self.rt.slack.chat_postMessage(channel=approver, unfurl_links=False,
                                                              **message.kwargs())
            except Exception as exc:
                log.warning("could not send approval request %s to %s: %s", request.id, approver, failure(exc))
                continue
            posted.append(Posted(request.id, str(answer["channel"]), str(answer["ts"]), approver))
        return posted

    async def refresh(self, request: Request, posted: list[Posted]) -> None:
        message = request_message(request, deciders=describe_approvers(request.approvers.split()))
        for place in posted:
            try:
                await self.rt.slack.chat_update(channel=place.channel, ts=place.ts, **message.kwargs())
            except Exception as exc:
                log.warning("could not update approval request %s in %s: %s", request.id, place.channel,
                            failure(exc))

    async def tell_requester(self, request: Request, event: Event, detail: str | None = None) -> None:
        try:
            await self.rt.slack.chat_postMessage(channel=request.requester, unfurl_links=False,
                                                 text=requester_text(request, event, detail))
        except Exception as exc:
            log.warning("could not tell %s about approval request %s: %s", request.requester, request.id,
                        failure(exc))

    async def deliver(self, request: Request, token: Token) -> Delivered:
        now = self.rt.clock()
        message = (team_secret_message(token, request.dataos_user_id, now) if request.kind == "team"
                   else secret_message(token, now))
        try:
            opened = await self.rt.slack.conversations_open(users=request.requester)
            await self.rt.slack.chat_postEphemeral(channel=str(opened["channel"]["id"]), user=request.requester,
                                                   **message.kwargs())
        except SlackApiError as exc:
            log.warning("could not deliver key %s of request %s privately: %s", token.name, request.id,
                        slack_error(exc))
            return "unknown" if fate_of(exc)[0] == "unknown" else "failed"
        except Exception as exc:
            log.warning("could not deliver key %s of request %s privately: %s", token.name, request.id,
                        type(exc).__name__)
            return "unknown" if fate_of(exc)[0] == "unknown" else "failed"
        return "delivered"

    async def owner_refusal(self, request: Request) -> str | None:
        acting = await act_as(self.rt, request.requester, request.dataos_user_id, "approval deliver")
        return acting if isinstance(acting, str) else None

    async def tell_team(self, request: Request, token: Token) -> None:
        team = await self.rt.teams.team_of(request.dataos_user_id)
        if team is None:
            return
        line = created_line(request.requester, token.name, request.dataos_user_id, token.expiration)
        line = line.removesuffix(".") + (f", approved by <@{request.decided_by}>." if request.decided_by else ".")
        try:
            await self.rt.slack.chat_postMessage(channel=team.channel_id, text=line, unfurl_links=False)
        except Exception as exc:
            log.warning("could not post in the team channel of %s: %s", request.dataos_user_id, failure(exc))
