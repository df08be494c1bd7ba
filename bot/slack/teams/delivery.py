"""A new application key, delivered to the one owner who asked: ephemeral in that owner's DM with the bot.

Its own module (not `keys`, a listener module) because the workflow steps' approval subscriber uses it from
start-up, and listener modules load only once the bot is ready (`bot.slack.surfaces`)."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.dataos import Token
from bot.identity import slack_error
from bot.slack.blocks.teams import team_secret_message

log = logging.getLogger(__name__)


async def deliver_team_secret(client: AsyncWebClient, slack_user: str, app_user_id: str, token: Token,
                              rt: Runtime) -> bool:
    """The new application key, ephemeral in the asking owner's DM with the bot; True if Slack took it."""
    try:
        opened = await client.conversations_open(users=slack_user)
        await client.chat_postEphemeral(channel=str(opened["channel"]["id"]), user=slack_user,
                                        **team_secret_message(token, app_user_id, rt.clock()).kwargs())
    except SlackApiError as exc:
        log.warning("could not deliver key %s to %s privately: %s", token.name, slack_user, slack_error(exc))
        return False
    except Exception as exc:
        log.warning("could not deliver key %s to %s privately: %s", token.name, slack_user, type(exc).__name__)
        return False
    return True
