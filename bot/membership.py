"""Who a Slack member is, as far as mapping goes: an employee, a guest, or someone from another
organisation. Pure: the same rule for the resolver, links, takeover notices and the reminder directory."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)  # slots: an organisation's directory holds 100,000 of them
class SlackProfile:
    user_id: str
    email: str | None
    tz: str | None
    tz_offset: int
    deleted: bool = False
    is_bot: bool = False
    name: str | None = None
    #: A guest: `is_restricted` (multi-channel) or `is_ultra_restricted` (single-channel).
    guest: bool = False
    #: The member's own workspace and Enterprise Grid organisation, and Slack's `is_stranger` flag.
    team_id: str | None = None
    enterprise_id: str | None = None
    stranger: bool = False
    #: Enterprise Grid: the granted workspaces the member is in (as the directory walk found them).
    teams: tuple[str, ...] = ()


@dataclass(frozen=True)
class Workspace:
    """Where the bot is installed (auth.test): a member of another team, outside this Grid organisation,
    comes from another organisation through Slack Connect. `org`: installed for the whole Enterprise Grid
    organisation (`is_enterprise_install`), one token for every workspace its admin granted."""

    team_id: str
    enterprise_id: str | None = None
    org: bool = False


Standing = Literal["member", "guest", "other_org"]


def standing(profile: SlackProfile, home: Workspace | None) -> Standing:
    """Pure: an employee of this organisation, a guest, or someone from another organisation (Slack's
    `is_stranger`, or a team that is neither this workspace nor in its Enterprise Grid organisation).
    Installed for a Grid organisation, a member of it is in whichever of its workspaces they belong to.
    Without `home` only `is_stranger` can tell; the resolver therefore refuses to map anyone until
    auth.test has named the workspace."""
    if profile.stranger:
        return "other_org"
    if home is not None and home.org and profile.enterprise_id != home.enterprise_id and profile.team_id:
        return "other_org"  # an organisation-wide install: only the organisation's own people
    if home is not None and profile.team_id and profile.team_id != home.team_id:
        same_grid = home.enterprise_id is not None and profile.enterprise_id == home.enterprise_id
        if not same_grid:
            return "other_org"
    return "guest" if profile.guest else "member"


def admitted(profile: SlackProfile, home: Workspace | None, *, allow_guests: bool) -> bool:
    """May this (active, human) member be mapped to a DataOS user at all?"""
    found = standing(profile, home)
    return found == "member" or (found == "guest" and allow_guests)


def shared_outside(channel: Mapping[str, Any], home: Workspace | None) -> bool:
    """Pure: can people of another organisation read this channel (Slack Connect)? `is_ext_shared` (or an
    invitation pending), or `is_shared` with a team in `connected_team_ids` that is neither this workspace
    nor its Enterprise Grid organisation. A channel shared only inside the organisation (`is_org_shared`) is
    not. Without `home`, any connected team counts as another organisation."""
    if channel.get("is_ext_shared") or channel.get("is_pending_ext_shared"):
        return True
    if not channel.get("is_shared") or channel.get("is_org_shared"):
        return False
    ours = {home.team_id, home.enterprise_id} if home is not None else set()
    return any(isinstance(t, str) and t and t not in ours for t in channel.get("connected_team_ids") or [])


OTHER_ORG = ("You are in this workspace from another organisation (Slack Connect), so this bot will not act "
             "for you here: DataOS keys are managed inside the organisation that runs DataOS. Nothing was done.")
GUEST = ("Guest accounts cannot manage DataOS keys through this bot in this workspace. Nothing was done. "
         "Ask a platform admin if you need a DataOS key.")


def profile_from_user(user: dict[str, Any]) -> SlackProfile:
    profile = user.get("profile") or {}
    grid = user.get("enterprise_user")
    tz = user.get("tz") or None
    enterprise = grid.get("enterprise_id") if isinstance(grid, dict) else None
    return SlackProfile(
        user_id=str(user.get("id")),
        email=profile.get("email") or None,
        tz=sys.intern(tz) if isinstance(tz, str) else tz,  # a few zones, shared by everyone in them
        tz_offset=int(user.get("tz_offset") or 0),
        deleted=bool(user.get("deleted")),
        is_bot=bool(user.get("is_bot")) or user.get("id") == "USLACKBOT",
        name=profile.get("real_name") or user.get("real_name") or user.get("name"),
        guest=bool(user.get("is_restricted")) or bool(user.get("is_ultra_restricted")),
        # (a few workspaces and one organisation, shared by everyone: one string each)
        team_id=sys.intern(str(user.get("team_id") or "")) or None,
        enterprise_id=sys.intern(enterprise) if isinstance(enterprise, str) and enterprise else None,
        stranger=bool(user.get("is_stranger")),
        teams=tuple(sys.intern(t) for t in (grid.get("teams") or []) if isinstance(t, str)) if isinstance(grid, dict)
        else (),
    )
