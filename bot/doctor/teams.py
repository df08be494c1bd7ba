"""doctor's check of the team channels: the bot is in each, none is archived, and none is shared with another
organisation (Slack Connect). Read-only: the teams as stored, and conversations.info of each channel."""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.doctor.check import Check
from bot.identity import slack_error
from bot.membership import Workspace, shared_outside
from bot.proxies import use_proxy_rule
from bot.store import create_engine
from bot.store.teams import Team, TeamsRepo


async def check_team_channels(settings: Settings) -> list[Check]:
    """Every team channel must have the bot in it: otherwise its team hears nothing (new keys, reveals,
    leaks, reminders); and no other organisation may read it (Slack Connect). Read-only: the teams as stored,
    and conversations.info of each channel."""
    engine = create_engine(settings.database_url)
    try:
        stored = await asyncio.wait_for(TeamsRepo(engine).all(), timeout=10)
    except Exception as exc:
        return [Check("team channels", "warn", f"could not read the teams ({type(exc).__name__})")]
    finally:
        await engine.dispose()
    if not stored:
        return []
    client = use_proxy_rule(AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                                           base_url=settings.slack_api_url), settings.slack_api_url)
    try:
        home = await _workspace(client)
        problems = [p for team in stored if (p := await _team_channel_problem(client, team, home))]
    finally:
        session = getattr(client, "session", None)
        if session is not None:
            await session.close()
    if problems:
        return [Check("team channels", "fail", "; ".join(problems) + ". Invite the bot (`/invite @apikey-bot` in "
                      "the channel) or give the team another channel, one only your organisation is in "
                      "(`/apikey admin team`)")]
    return [Check("team channels", "ok", f"the bot is in all {len(stored)} team channel(s)")]


async def _workspace(client: AsyncWebClient) -> Workspace | None:
    """This workspace and its Grid organisation (auth.test), to tell another organisation's teams apart."""
    try:
        answer = await client.auth_test()
    except (SlackApiError, aiohttp.ClientError, TimeoutError):
        return None
    team = str(answer.get("team_id") or "")
    return Workspace(team, str(answer.get("enterprise_id") or "") or None,
                     org=answer.get("is_enterprise_install") is True) if team else None


async def _team_channel_problem(client: AsyncWebClient, team: Team, home: Workspace | None) -> str | None:
    where = f"<#{team.channel_id}> of `{team.app_user_id}`"
    try:
        info = (await client.conversations_info(channel=team.channel_id)).get("channel") or {}
    except SlackApiError as exc:
        return f"{where}: Slack answered `{slack_error(exc)}`"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"{where}: could not be looked up ({type(exc).__name__})"
    where = f"#{info.get('name') or team.channel_id} of `{team.app_user_id}`"
    if info.get("is_archived"):
        return f"{where} is archived"
    if not info.get("is_member"):
        return f"the bot is not in {where}"
    if shared_outside(info, home):
        return f"{where} is shared with another organisation (Slack Connect), so the bot does not post there"
    return None
