"""Enterprise Grid in the Slack fake: an organisation of several workspaces, and the bot installed once for
the organisation (an org-ready app, `org_deploy_enabled`), as Slack's documentation describes it:

- `auth.test` on the organisation's token answers with the organisation (`enterprise_id`,
  `is_enterprise_install: true`); `auth.teams.list` lists the workspaces the org admin granted the app.
- `users.list` with an organisation token needs `team_id` (else `missing_argument`), and only a granted
  workspace's (else `team_access_not_granted`); it lists that workspace's members. Its Tier 2 limit counts
  per workspace. A member's `enterprise_user.teams` names every workspace they are in; user ids are global.
- A channel lives in one workspace (`context_team_id` in `conversations.info`); one in a workspace the app
  was not granted does not exist for it (`channel_not_found`), so the bot can neither read nor post there.
- `grant` / `revoke` are the org admin's doing, and return the `team_access_granted` /
  `team_access_revoked` event Slack then sends; `envelope` and `command_fields` / `interaction_fields`
  give what a request from a workspace of the organisation carries (`enterprise_id`, the workspace's
  `team_id`, `is_enterprise_install`, `authorizations`).

Without `make_org` the fake is a single workspace, exactly as before.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from bot.playground.slack.directory import BOT_USER_ID, TEAM_ID, Directory

ENTERPRISE_ID = "E0ACME"
ORG_NAME = "Acme Corporation"


class GridOrg(Directory):
    """Mixed into `SlackFake` before the Web API methods, whose answers it changes for an organisation."""

    enterprise_id: str | None = None
    org_name: str = ORG_NAME
    #: team_id -> {"id", "name", "domain", "granted"}; empty for a single-workspace install
    workspaces: dict[str, dict[str, Any]]
    _grid_events = itertools.count(1)
    _grid_version = 0

    def make_org(self, enterprise_id: str = ENTERPRISE_ID, name: str = ORG_NAME) -> None:
        """The app is now installed for the organisation `enterprise_id`: the workspace that existed
        (`TEAM_ID`) is its first, granted; everyone already in it is a member of the organisation there."""
        with self._lock:
            self.enterprise_id, self.org_name = enterprise_id, name
            self.workspaces = {}
            self.add_workspace(TEAM_ID, "Acme", granted=True)
            for user in self.users.values():
                if user.get("team_id") == TEAM_ID and not user.get("is_stranger"):
                    self._enterprise_user(user, [TEAM_ID])

    def add_workspace(self, team_id: str, name: str, *, granted: bool = True) -> None:
        with self._lock:
            self.workspaces[team_id] = {"id": team_id, "name": name, "domain": name.lower().replace(" ", "-"),
                                        "granted": granted}

    def granted(self) -> list[str]:
        return [t for t, w in getattr(self, "workspaces", {}).items() if w["granted"]]

    def _enterprise_user(self, user: dict[str, Any], teams: list[str]) -> None:
        self._grid_version += 1
        user["enterprise_user"] = {"id": user["id"], "enterprise_id": self.enterprise_id,
                                   "enterprise_name": self.org_name, "is_admin": False, "is_owner": False,
                                   "teams": list(teams)}

    def join(self, user_id: str, *team_ids: str) -> None:
        """`user_id` (a member of the organisation) is also in these workspaces now."""
        with self._lock:
            user = self.users[user_id]
            teams = list((user.get("enterprise_user") or {}).get("teams") or [user["team_id"]])
            self._enterprise_user(user, teams + [t for t in team_ids if t not in teams])

    def move(self, user_id: str, *team_ids: str) -> None:
        """`user_id` is now in exactly these workspaces (the first their home)."""
        with self._lock:
            user = self.users[user_id]
            user["team_id"] = team_ids[0]
            self._enterprise_user(user, list(team_ids))

    def in_org(self, user_id: str, *team_ids: str, email: str | None = None, name: str | None = None,
               tz: str = "Europe/Berlin", tz_offset: int = 3600, **flags: Any) -> dict[str, Any]:
        """A member of the organisation whose home workspace is `team_ids[0]`, in all of `team_ids`."""
        add_user = self.add_user
        user: dict[str, Any] = add_user(user_id, email, name=name, tz=tz, tz_offset=tz_offset, team_id=team_ids[0],
                                        **flags)
        with self._lock:
            self._enterprise_user(user, list(team_ids))
        return user

    def channel_in(self, channel_id: str, team_id: str) -> None:
        """`channel_id` (made with `add_channel`) lives in workspace `team_id`."""
        with self._lock:
            self.channels[channel_id]["_team"] = team_id

    # ---- the org admin ----------------------------------------------------------------------------

    def grant(self, *team_ids: str) -> dict[str, Any]:
        """The org admin grants the app these workspaces: the `team_access_granted` event Slack sends."""
        return self._access("team_access_granted", team_ids, True)

    def revoke(self, *team_ids: str) -> dict[str, Any]:
        """The org admin takes these workspaces back: the `team_access_revoked` event Slack sends."""
        return self._access("team_access_revoked", team_ids, False)

    def _access(self, kind: str, team_ids: tuple[str, ...], granted: bool) -> dict[str, Any]:
        with self._lock:
            for team in team_ids:
                self.workspaces[team]["granted"] = granted
        return {"type": kind, "team_ids": list(team_ids), "event_ts": f"{time.time():.6f}"}

    # ---- what requests from the organisation carry -----------------------------------------------

    def envelope(self, event: dict[str, Any], *, team_id: str | None = None,
                 event_id: str | None = None) -> dict[str, Any]:
        """An Events API delivery as Slack sends it to an organisation-wide install (an event of a
        workspace names it in `team_id`; the org admin's events name only the organisation)."""
        n = next(self._grid_events)
        return {"token": "legacy", "enterprise_id": self.enterprise_id, "team_id": team_id,
                "api_app_id": "A0ABC", "type": "event_callback", "event_id": event_id or f"EvG{n:06d}",
                "event_time": 1700000000 + n, "event": event, "is_ext_shared_channel": False,
                "authorizations": [{"enterprise_id": self.enterprise_id, "team_id": None, "user_id": BOT_USER_ID,
                                    "is_bot": True, "is_enterprise_install": True}]}

    def command_fields(self, team_id: str) -> dict[str, str]:
        """The fields of a slash command typed in workspace `team_id` of the organisation."""
        return {"team_id": team_id, "team_domain": self.workspaces[team_id]["domain"],
                "enterprise_id": self.enterprise_id or "", "enterprise_name": self.org_name,
                "is_enterprise_install": "true"}

    def interaction_fields(self, team_id: str, user: str) -> dict[str, Any]:
        """What a click or a submission in workspace `team_id` carries about where it came from."""
        return {"team": {"id": team_id, "domain": self.workspaces[team_id]["domain"],
                         "enterprise_id": self.enterprise_id, "enterprise_name": self.org_name},
                "enterprise": {"id": self.enterprise_id, "name": self.org_name}, "is_enterprise_install": True,
                "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id}}

    # ---- the Web API, for an organisation-wide token ----------------------------------------------

    def rate_key(self, method: str, params: dict[str, Any]) -> str:
        """Slack's rate limits count per app per workspace: with an organisation token, per `team_id`."""
        return f"{method}:{params.get('team_id') or ''}" if self.enterprise_id else method

    def _m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        if not self.enterprise_id:
            return {"ok": True, "url": "https://acme.slack.com/", "team": "Acme", "user": "apikey-bot",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B0BOT"}
        return {"ok": True, "url": "https://acme-corp.enterprise.slack.com/", "team": self.org_name,
                "user": "apikey-bot", "team_id": self.enterprise_id, "user_id": BOT_USER_ID, "bot_id": "B0BOT",
                "enterprise_id": self.enterprise_id, "is_enterprise_install": True}

    def _m_auth_teams_list(self, p: dict[str, Any]) -> dict[str, Any]:
        if not self.enterprise_id:
            teams = [{"id": TEAM_ID, "name": "Acme"}]
        else:
            teams = [{"id": w["id"], "name": w["name"]} for w in self.workspaces.values() if w["granted"]]
        try:
            limit, start = int(p.get("limit") or 100), int(p.get("cursor") or 0)
        except ValueError:
            return {"ok": False, "error": "invalid_cursor"}
        if not 1 <= limit <= 1000:
            return {"ok": False, "error": "invalid_limit"}
        nxt = str(start + limit) if start + limit < len(teams) else ""
        return {"ok": True, "teams": teams[start:start + limit], "response_metadata": {"next_cursor": nxt}}

    def _members_of(self, team_id: str) -> list[dict[str, Any]]:
        # Kept per workspace while nobody joins, so a walk of a large organisation reads each page in O(page).
        cache: dict[str, tuple[int, int, list[dict[str, Any]]]] = self.__dict__.setdefault("_team_members", {})
        stamp = (self._grid_version, len(self.users))
        cached = cache.get(team_id)
        if cached is None or cached[:2] != stamp:
            members = [u for u in self.users.values()
                       if team_id in ((u.get("enterprise_user") or {}).get("teams") or [u.get("team_id")])]
            cache[team_id] = cached = (*stamp, members)
        return cached[2]

    def _m_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        team = str(p.get("team_id") or "")
        if self.enterprise_id and not team:
            return {"ok": False, "error": "missing_argument"}  # an org token must say which workspace
        if self.enterprise_id and team not in self.granted():
            return {"ok": False, "error": "team_access_not_granted"}
        page_size = int(getattr(self, "page_size", 200))
        members = self._members_of(team) if self.enterprise_id else list(self.users.values())
        start = int(p.get("cursor") or 0)
        limit = min(int(p.get("limit") or page_size), page_size)
        nxt = str(start + limit) if start + limit < len(members) else ""
        return {"ok": True, "members": members[start:start + limit], "response_metadata": {"next_cursor": nxt}}

    def channel_team(self, channel: str) -> str:
        known = self.channels.get(channel) or {}
        return str(known.get("_team") or TEAM_ID)

    def reachable(self, channel: str) -> bool:
        """Whether the app can see `channel` at all: not a channel of a workspace it was not granted."""
        return not self.enterprise_id or channel not in self.channels or self.channel_team(channel) in self.granted()

    def channel_info(self, channel: dict[str, Any]) -> dict[str, Any]:
        info = {k: v for k, v in channel.items() if not k.startswith("_")}
        if self.enterprise_id:
            info["context_team_id"] = self.channel_team(str(channel["id"]))
        return info

    def _m_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        if not self.reachable(str(p.get("channel") or "")):
            return {"ok": False, "error": "channel_not_found"}
        answer: dict[str, Any] = super()._m_conversations_info(p)  # type: ignore[misc]
        return answer

    def post_refusal(self, channel: str, *, ephemeral_to: str | None = None) -> str | None:
        if not self.reachable(channel):
            return "channel_not_found"
        return super().post_refusal(channel, ephemeral_to=ephemeral_to)
