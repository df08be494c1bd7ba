"""Enterprise Grid: the organisation's admin grants the bot a workspace, or takes one back
(`team_access_granted` / `team_access_revoked`, sent only to an organisation-wide install). The member
directory follows without a restart: a granted workspace's members are walked and can get reminders; a
revoked workspace's members leave it, unless they are in another granted workspace (`SlackDirectory`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.identity import slack_error

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.app import Runtime

log = logging.getLogger(__name__)


def team_ids(event: dict[str, Any]) -> list[str]:
    """The workspaces an access event names (`team_ids`), checked: Slack's ids are short and plain."""
    raw = event.get("team_ids")
    if not isinstance(raw, list):
        return []
    return sorted({t for t in raw if isinstance(t, str) and 0 < len(t) <= 32 and t.isalnum()})


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.event("team_access_granted")
    async def on_granted(event: dict[str, Any]) -> None:
        teams = team_ids(event)
        if not teams:
            return
        async with rt.work():
            try:
                await rt.slack_directory.grant(teams)
            except SlackApiError as exc:  # the next discovery walks every granted workspace again
                log.warning("could not walk the newly granted workspace(s) %s (Slack answered %s); the next "
                            "discovery will", ", ".join(teams), slack_error(exc))
            except Exception as exc:
                log.warning("could not add the newly granted workspace(s) %s (%s); the next discovery will",
                            ", ".join(teams), type(exc).__name__)

    @app.event("team_access_revoked")
    async def on_revoked(event: dict[str, Any]) -> None:
        teams = team_ids(event)
        if not teams:
            return
        async with rt.work():
            try:
                await rt.slack_directory.revoke(teams)
            except Exception as exc:  # the next discovery's walk (auth.teams.list) drops them anyway
                log.warning("could not drop the revoked workspace(s) %s (%s); the next discovery will",
                            ", ".join(teams), type(exc).__name__)
