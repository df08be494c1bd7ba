"""The app's own lifecycle: Slack tells the bot when it was uninstalled or its tokens revoked. From then
on nothing the bot sends is taken, so reminder passes stop, /readyz answers 503 naming why, and one
ERROR line says what to do (`Runtime.stop_slack`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.app import Runtime

log = logging.getLogger(__name__)


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.event("app_uninstalled")
    async def on_uninstalled(event: dict[str, Any]) -> None:
        rt.stop_slack("the app was uninstalled from the workspace (app_uninstalled)", "app_uninstalled")

    @app.event("tokens_revoked")
    async def on_tokens_revoked(event: dict[str, Any]) -> None:
        tokens = event.get("tokens") or {}
        if tokens.get("bot"):
            rt.stop_slack("the bot's token was revoked (tokens_revoked)", "tokens_revoked")
        else:  # user tokens only: the bot uses none
            log.info("Slack revoked %d user token(s); the bot uses none, nothing changes",
                     len(tokens.get("oauth") or []))
