"""Who and where in the Slack fake: members, channels (with who is in them), user groups, and the
conversations a message can go to. The Web API methods (`methods`) answer from this, so what
`chat.postEphemeral` or `conversations.info` says follows the workspace a test built.

A channel made by `add_channel` holds every member of the workspace unless `members` names who is in
it (as #general does); a DM `D…` is the one between the bot and the member `U…` of the same suffix.
A channel nobody made does not exist: Slack answers `channel_not_found`.
"""

from __future__ import annotations

import threading
from typing import Any

BOT_USER_ID = "UBOT0001"
TEAM_ID = "T0123"


class Directory:
    """Mixed into `SlackFake`, which sets these up."""

    users: dict[str, dict[str, Any]]
    channels: dict[str, dict[str, Any]]
    usergroups: dict[str, dict[str, Any]]
    _lock: threading.Condition

    def add_user(
        self, user_id: str, email: str | None, *, tz: str = "Europe/Berlin", tz_offset: int = 3600,
        deleted: bool = False, is_bot: bool = False, name: str | None = None, team_id: str = TEAM_ID,
        is_restricted: bool = False, is_ultra_restricted: bool = False, is_stranger: bool = False,
    ) -> dict[str, Any]:
        """A member as `users.info`/`users.list` show them. Guests are `is_restricted` (multi-channel) or
        also `is_ultra_restricted` (single-channel); a Slack Connect member has another `team_id`, and
        Slack adds `is_stranger: true` for people from another organisation the workspace shares no
        channel with (the field is absent otherwise)."""
        user: dict[str, Any] = {
            "id": user_id, "team_id": team_id, "name": name or user_id.lower(), "deleted": deleted,
            "is_bot": is_bot, "is_restricted": is_restricted or is_ultra_restricted,
            "is_ultra_restricted": is_ultra_restricted, "tz": tz, "tz_offset": tz_offset,
            "profile": {"email": email, "real_name": name or user_id} if email else {"real_name": name or user_id},
        }
        if is_stranger:
            user["is_stranger"] = True
        self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str, *, member: bool = True, private: bool = False,
                    archived: bool = False, members: list[str] | None = None, ext_shared: bool = False,
                    connected_team_ids: list[str] | None = None, read_only: bool = False,
                    restricted: bool = False) -> dict[str, Any]:
        """A channel Slack knows, as `conversations.info` shows it. Posts need the bot in it (`member`;
        else `not_in_channel`) and it not archived (`is_archived`); `members` (default: everyone) decides
        who can get an ephemeral message there (`user_not_in_channel`). A Slack Connect channel is
        `ext_shared` (Slack lists the organisations in `connected_team_ids`); `read_only` (an
        announcement channel) or `restricted` (a workspace preference) refuses the bot's posts
        (`restricted_action`)."""
        connected = [TEAM_ID, *(connected_team_ids or [])] if ext_shared or connected_team_ids else []
        channel = {"id": channel_id, "name": name, "is_channel": not private, "is_group": private,
                   "is_private": private, "is_archived": archived, "is_member": member,
                   "is_ext_shared": ext_shared, "is_shared": bool(ext_shared or connected_team_ids),
                   "is_org_shared": False, "connected_team_ids": connected, "is_read_only": read_only,
                   "_members": None if members is None else list(members), "_restricted": restricted}
        self.channels[channel_id] = channel
        return channel

    def restrict_posting(self, channel_id: str, restricted: bool = True) -> None:
        """A workspace preference now stops (or again lets) the bot post in `channel_id` (`restricted_action`)."""
        with self._lock:
            self.channels[channel_id]["_restricted"] = restricted

    def add_usergroup(self, group_id: str, handle: str, members: list[str]) -> dict[str, Any]:
        """A user group (`@handle`); `set_usergroup_members` changes who is in it, as an admin would."""
        group = {"id": group_id, "team_id": TEAM_ID, "handle": handle, "name": handle, "users": list(members)}
        self.usergroups[group_id] = group
        return group

    def set_usergroup_members(self, group_id: str, members: list[str]) -> None:
        with self._lock:
            self.usergroups[group_id]["users"] = list(members)

    # ---- what the methods ask ---------------------------------------------------------------------

    def dm_of(self, user: str) -> str:
        """The bot's DM with `user`, as conversations.open names it."""
        return "D" + user[1:]

    def conversation(self, channel: str) -> str | None:
        """The conversation a message to `channel` goes to (a user id means the bot's DM with them), or
        None when Slack knows no such conversation."""
        if channel.startswith(("U", "W")) and channel in self.users:
            return self.dm_of(channel)
        if channel in self.channels or self.dm_member(channel) is not None:
            return channel
        return None

    def dm_member(self, channel: str) -> str | None:
        """The member whose DM with the bot `channel` is, if it is one."""
        if not channel.startswith("D"):
            return None
        return next((u for u in ("U" + channel[1:], "W" + channel[1:]) if u in self.users), None)

    def in_conversation(self, user: str, channel: str) -> bool:
        """Whether `user` is in the conversation (a DM holds its member; a channel its `members`, or all)."""
        dm = self.dm_member(channel)
        if dm is not None:
            return user == dm
        known = self.channels.get(channel)
        if known is None or user not in self.users:
            return False
        members = known.get("_members")
        return members is None or user in members

    def post_refusal(self, channel: str, *, ephemeral_to: str | None = None) -> str | None:
        """Why Slack would refuse the bot's message (or an ephemeral one to `ephemeral_to`) in `channel`."""
        if self.conversation(channel) is None:
            return "channel_not_found"
        known = self.channels.get(channel)
        if known is not None:
            if known["is_archived"]:
                return "is_archived"
            if not known["is_member"]:
                return "channel_not_found" if known["is_private"] else "not_in_channel"
            if known.get("is_read_only") or known.get("_restricted"):
                return "restricted_action"
        if ephemeral_to is not None:
            if ephemeral_to not in self.users:
                return "user_not_found"
            if not self.in_conversation(ephemeral_to, self.conversation(channel) or channel):
                return "user_not_in_channel"
        return None

    def channel_info(self, channel: dict[str, Any]) -> dict[str, Any]:
        """A channel as `conversations.info` shows it (without the fake's own bookkeeping)."""
        return {k: v for k, v in channel.items() if not k.startswith("_")}
