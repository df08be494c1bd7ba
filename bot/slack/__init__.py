"""Slack side: listeners per kind (commands, views, actions), Block Kit builders, delivery."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.app import Runtime

log = logging.getLogger(__name__)


def register_all(app: AsyncApp, rt: Runtime) -> None:
    from bot.slack import actions, commands, reminder_buttons, views

    commands.register(app, rt)
    views.register(app, rt)
    actions.register(app, rt)
    reminder_buttons.register(app, rt)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        # Type and where only: an exception's text could carry request data.
        kind = body.get("type") or ("command" if "command" in body else "unknown")
        log.error("unhandled %s in a %s listener", type(error).__name__, kind, exc_info=error)
