"""`apikey-bot doctor` on Enterprise Grid: the workspaces the organisation's admin granted the bot, and whether
each channel the bot is configured to post in (AUDIT_CHANNEL, APPROVAL_CHANNEL, DIGEST_CHANNEL, the team
channels) lives in one of them. A channel of a workspace not granted is invisible to the bot (Slack answers
`channel_not_found`), so nothing posted there would arrive. Read-only: auth.teams.list and conversations.info."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.identity import slack_error

Status = Literal["ok", "warn", "fail"]
Finding = tuple[str, Status, str]


async def grid_findings(client: AsyncWebClient, auth: Mapping[str, Any],
                        channels: Mapping[str, str]) -> list[Finding]:
    """Nothing for a single-workspace install; else the granted workspaces, then one line per channel
    (`channels`: what names it, such as "AUDIT_CHANNEL", to its id)."""
    if auth.get("is_enterprise_install") is not True:
        return []
    org = f"{auth.get('team') or 'the organisation'} ({auth.get('enterprise_id')})"
    try:
        teams: dict[str, str] = {}
        cursor = ""
        while True:
            page = await client.auth_teams_list(limit=1000, cursor=cursor or None)
            teams.update({str(t["id"]): str(t.get("name") or t["id"]) for t in page.get("teams") or []
                          if isinstance(t, dict) and t.get("id")})
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
    except SlackApiError as exc:
        return [("Grid workspaces", "fail", f"installed for {org}, but auth.teams.list answered "
                 f"`{slack_error(exc)}`")]
    except (aiohttp.ClientError, TimeoutError) as exc:
        return [("Grid workspaces", "warn", f"could not list the granted workspaces ({type(exc).__name__})")]
    if not teams:
        return [("Grid workspaces", "fail", f"installed for {org}, but no workspace is granted: an org admin adds "
                 "the app to workspaces (Manage organisation → Integrations → Installed apps → the app → Add to "
                 "more workspaces)")]
    shown = ", ".join(f"{name} ({team})" for team, name in sorted(teams.items(), key=lambda t: t[1]))
    found: list[Finding] = [("Grid workspaces", "ok", f"installed for {org}; {len(teams)} granted: {shown}")]
    problems: list[str] = []
    for what, channel in channels.items():
        try:
            info = (await client.conversations_info(channel=channel)).get("channel") or {}
        except SlackApiError as exc:
            error = slack_error(exc)
            problems.append(f"{what}={channel} is in no granted workspace (Slack answered `{error}`)"
                            if error == "channel_not_found" else f"{what}={channel}: Slack answered `{error}`")
            continue
        except (aiohttp.ClientError, TimeoutError) as exc:
            problems.append(f"{what}={channel} could not be looked up ({type(exc).__name__})")
            continue
        team = str(info.get("context_team_id") or "")
        if team and team not in teams and not info.get("is_org_shared"):
            problems.append(f"{what}=#{info.get('name') or channel} lives in workspace {team}, which is not granted")
    if problems:
        found.append(("Grid channels", "fail", "; ".join(problems) + ". Grant the bot that workspace (org admin) or "
                      "choose a channel in a granted one"))
    elif channels:
        found.append(("Grid channels", "ok", f"all {len(channels)} configured channel(s) are in granted workspaces"))
    return found
