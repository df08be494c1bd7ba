"""The Home tab (`app_home_opened`, `views.publish`), refreshed when opened and after each action."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.app import Runtime
from bot.dataos import DataOSError, Token
from bot.identity import Denied, failure
from bot.slack import tracked
from bot.slack.blocks.home import home_view
from bot.slack.blocks.ids import HOME_REMINDERS_ACTION
from bot.slack.common import scheduled_revocations, user_id
from bot.slack.errors import explain
from bot.store.pending import Scheduled

log = logging.getLogger(__name__)


async def publish_home(rt: Runtime, slack_user: str, *, notice: str | None = None) -> None:
    """Best-effort: the Home tab is a view of state kept elsewhere; failing to draw it changes nothing."""
    if not rt.settings.home_tab or not slack_user:
        return
    try:
        identity = await rt.keys.identify(slack_user)
        tokens: list[Token] = []
        problem = None
        scheduled: Scheduled = {}
        if not isinstance(identity, Denied):
            try:
                tokens = await rt.keys.list_keys(identity)
            except DataOSError as exc:
                problem = explain(exc, doing="listing your keys", read=True)
            scheduled = await scheduled_revocations(rt.revocations, identity.dataos_user_id)
        reminders_on = await rt.prefs.reminders_enabled(slack_user)
        view = home_view(identity, tokens, rt.clock(), reminders_on=reminders_on, notice=notice,
                         problem=problem, scheduled=scheduled)
        await rt.slack.views_publish(user_id=slack_user, view=view)
    except Exception as exc:
        log.warning("could not publish the Home tab of %s: %s", slack_user, failure(exc))


def from_home(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "home"


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            async with rt.work():
                await publish_home(rt, str(event.get("user") or ""))

    @app.action(HOME_REMINDERS_ACTION)
    @tracked(rt, "action", "home_reminders")
    async def on_reminders_toggle(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        on = str(actions[0].get("value") or "") == "on"
        await rt.prefs.set_reminders_enabled(user_id(body), on, rt.clock())
        await publish_home(rt, user_id(body))
