"""`/apikey admin team …` and `/apikey admin teams`: admins say who owns an application user's keys.

Refused with a sentence, and nothing stored: a person user, the bot's own operator user, an unknown
DataOS user, a channel the bot is not a member of or that another organisation can read (Slack Connect),
owners who are guests or from another organisation (or deactivated, or bots), a user group Slack does not
know, and no owner at all. Every outcome is audited (and announced in the audit channel).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from slack_sdk.errors import SlackApiError

from bot.app import Runtime
from bot.dataos import DataOSError, DataOSNotFound
from bot.identity import slack_error
from bot.membership import shared_outside
from bot.slack.blocks import slack_date
from bot.slack.blocks.chunks import section_blocks
from bot.slack.blocks.rotation import schedule_words
from bot.slack.errors import explain, unescaped_mention
from bot.store import Audit
from bot.store.rotations import Target
from bot.store.teams import Team
from bot.teams import describe_owners
from bot.text import shown

Say = Callable[..., Awaitable[None]]  # admin_command's say(text, extra blocks=None)
_PERSON = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
_GROUP = re.compile(r"^<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>$")
#: DataOS calls at once when `teams` looks for application users' keys.
LIST_CONCURRENCY = 8
TEAM_USAGE = ("`/apikey admin team &lt;app-user&gt; #channel @person… [@usergroup…]` makes or replaces a team; "
              "`/apikey admin team &lt;app-user&gt;` shows it; `/apikey admin team &lt;app-user&gt; remove` ends it; "
              "`/apikey admin teams` lists them all.")


class Refused(Exception):
    """A team was not set; the message is the sentence the admin reads (`reason` for the audit)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


async def _audit(rt: Runtime, actor: str, action: str, outcome: str, app_user_id: str | None,
                 detail: str | None = None) -> None:
    await rt.keys.trail.record(Audit(at=rt.clock(), actor_slack_id=actor, action=f"admin {action}", outcome=outcome,
                                     dataos_user_id=app_user_id and app_user_id[:255], detail=detail))


def team_text(team: Team, rotation: Target | None = None) -> str:
    text = (f"`{shown(team.app_user_id)}`: owners {describe_owners(team)}, channel <#{team.channel_id}> "
            f"(set by <@{team.created_by}>)")
    if rotation is None:
        return text
    return text + "; " + schedule_words(target=rotation.target, every_hours=rotation.every_hours,
                                        before_hours=rotation.before_hours, grace_seconds=rotation.grace_seconds,
                                        state=rotation.state, next_at=rotation.next_at, last_error=rotation.last_error)


async def admin_team(rt: Runtime, actor: str, args: list[str], say: Say) -> None:
    if not args:
        await say(TEAM_USAGE)
        return
    app = args[0]
    rest = args[1:]
    if not rest:
        team = await rt.teams.team_of(app)
        await _audit(rt, actor, "team show", "ok" if team else "no-team", app)
        rotation = await rt.rotations.target(app)
        await say(f"Team of {team_text(team, rotation)}." if team else f"`{shown(app)}` has no team. {TEAM_USAGE}")
        return
    if rest == ["remove"]:
        removed = await rt.teams.repo.remove(app)
        await rt.teams.seen.forget(app)
        await _audit(rt, actor, "team remove", "ok" if removed else "no-team", app)
        await say(f"`{shown(app)}` has no team any more; only platform admins manage its keys." if removed
                  else f"`{shown(app)}` had no team. Nothing was changed.")
        return
    try:
        team, members = await _checked_team(rt, actor, app, rest)
    except Refused as exc:
        await _audit(rt, actor, "team", f"refused:{exc.reason}"[:32], app)
        await say(f":no_entry: {exc}")
        return
    except DataOSError as exc:
        await _audit(rt, actor, "team", "failed", app)
        await say(":x: " + explain(exc, doing="looking up that DataOS user", read=True))
        return
    previous = await rt.teams.team_of(app)
    await rt.teams.repo.put(team, now=rt.clock())
    # What is seen of each owning group starts here: later joins and departures are told to the team.
    await rt.teams.seen.forget(app, keep=team.owner_groups)
    for group, in_group in members.items():
        if previous is None or group not in previous.owner_groups:
            await rt.teams.seen.baseline(app, group, in_group, now=rt.clock())
    owners = " ".join(team.owner_users + team.owner_groups)
    await _audit(rt, actor, "team", "ok", app, detail=f"channel {team.channel_id}; owners {owners}"[:500])
    verb = "replaced" if previous else "made"
    await say(f":busts_in_silhouette: Team {verb}: {team_text(team)}. Its owners see its keys in `/apikey list`.")


async def _checked_team(rt: Runtime, actor: str, app: str, words: list[str]) -> tuple[Team, dict[str, list[str]]]:
    """The team the words describe, and the members of each of its user groups now; Refused if not."""
    shown_app = shown(app, 80)
    operator = await rt.keys.operator_user_id()
    if operator is None:  # fail closed: without it, the bot's own user could be handed to a team
        raise Refused("DataOS cannot say right now which DataOS user the bot itself is, so no team can be set "
                      "safely. Nothing was changed. Please try again in a few minutes.", "unavailable")
    if app == operator:
        raise Refused(f"`{shown_app}` is the bot's own DataOS user: its key is the bot's, and no team may hold it. "
                      "Nothing was changed.", "operator")
    user = await rt.directory.get(app)
    if user is None:
        try:
            user = await rt.dataos.get_user(app)
        except DataOSNotFound:
            raise Refused(f"DataOS has no user `{shown_app}`. Nothing was changed.", "unknown-user") from None
    if user.is_person:
        raise Refused(f"`{shown_app}` is a person: teams are for application users; people manage their own keys. "
                      "Nothing was changed.", "person")
    if user.type != "application":  # a user DataOS gives no type may be a person: never a team's
        raise Refused(f"`{shown_app}` is not an application user (DataOS gives it no such type): teams are for "
                      "application users. Nothing was changed.", "not-application")
    if user.is_operator:
        raise Refused(f"`{shown_app}` is an operator user; no team may hold its keys. Nothing was changed.", "operator")
    channel: str | None = None
    people: list[str] = []
    groups: list[str] = []
    for word in words:
        if (m := _CHANNEL.match(word)) is not None:
            if channel is not None:
                raise Refused("A team has one channel; name only one. Nothing was changed.", "two-channels")
            channel = m.group(1)
        elif (m := _PERSON.match(word)) is not None:
            people.append(m.group(1))
        elif (m := _GROUP.match(word)) is not None:
            groups.append(m.group(1))
        elif (unescaped := unescaped_mention([word])) is not None:
            raise Refused(unescaped, "unescaped")
        else:
            raise Refused(f"I could not read `{shown(word, 80)}`: name the channel as #channel, people as @person and "
                          "user groups as @group. Nothing was changed.", "unreadable")
    if channel is None:
        raise Refused("Name the team's channel (#channel). Nothing was changed.", "no-channel")
    if not people and not groups:
        raise Refused("A team needs at least one owner (@person or @usergroup). Nothing was changed.", "no-owner")
    await _check_channel(rt, channel)
    for person in dict.fromkeys(people):
        denied = await rt.resolver.admission(person, allow_guests=False)
        if denied is not None:
            what = {"other_org": "is from another organisation (Slack Connect)", "guest": "is a guest account",
                    "deactivated": "is deactivated", "bot": "is a bot or app"}.get(
                denied.reason, "could not be looked up in Slack just now")
            raise Refused(f"<@{person}> {what}, and cannot own a team. Nothing was changed.", denied.reason)
    members: dict[str, list[str]] = {}
    for group in dict.fromkeys(groups):
        try:
            answer = await rt.slack.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            raise Refused(f"Slack could not tell me who is in <!subteam^{group}> ({shown(slack_error(exc), 60)}). "
                          "Nothing was changed.", "group") from None
        members[group] = [str(u) for u in answer.get("users") or [] if isinstance(u, str)]
    team = Team(app, channel, tuple(dict.fromkeys(people)), tuple(dict.fromkeys(groups)), actor, rt.clock())
    return team, members


async def _check_channel(rt: Runtime, channel: str) -> None:
    bot = await rt.bot_user_id()
    invite = f"Invite <@{bot}> to <#{channel}> first (`/invite` in the channel), then run this again." if bot else (
        f"Invite the bot to <#{channel}> first, then run this again.")
    try:
        answer = await rt.slack.conversations_info(channel=channel)
    except SlackApiError as exc:
        code = slack_error(exc)
        if code == "channel_not_found":
            raise Refused(f"I cannot see <#{channel}>. {invite} Nothing was changed.", "no-channel") from None
        raise Refused(f"Slack would not tell me about <#{channel}> ({shown(code, 60)}). Nothing was changed.",
                      "channel") from None
    info = answer.get("channel") or {}
    if info.get("is_archived"):
        raise Refused(f"<#{channel}> is archived. Nothing was changed.", "archived")
    if shared_outside(info, await rt.workspace()):
        raise Refused(f"<#{channel}> is shared with another organisation (Slack Connect): people outside your "
                      "organisation would read about this team's keys there. Choose a channel only your organisation "
                      "is in. Nothing was changed.", "shared-channel")
    if not info.get("is_member"):
        raise Refused(f"I am not a member of <#{channel}>. {invite} Nothing was changed.", "not-in-channel")


async def admin_teams(rt: Runtime, actor: str, say: Say) -> None:
    """Every team, and every application user with keys but no team, each with its next expiry."""
    teams = {t.app_user_id: t for t in await rt.teams.all()}
    rotations = {r.app_user_id: r for r in await rt.rotations.targets()}
    try:  # a rare admin command: application users made since the last load are listed too
        await rt.directory.refresh()
    except DataOSError:
        await rt.directory.ensure_loaded()
    operator = await rt.keys.operator_user_id()
    apps = sorted({u.id for u in rt.directory.applications() if u.id != operator and not u.is_operator}
                  | set(teams))
    gate = asyncio.Semaphore(LIST_CONCURRENCY)

    async def next_expiry(app: str) -> tuple[int, datetime | None] | None:
        async with gate:
            try:
                tokens = await rt.dataos.list_tokens(app)
            except DataOSError:
                return None
        return len(tokens), min((t.expiration for t in tokens), default=None)

    found = await asyncio.gather(*(next_expiry(a) for a in apps))
    owned: list[str] = []
    unowned: list[str] = []
    for app, keys in zip(apps, found, strict=True):
        when = ("keys unknown (DataOS did not answer)" if keys is None else "no keys" if not keys[0] else
                f"{keys[0]} key{'s' if keys[0] != 1 else ''}, next expiry {slack_date(keys[1])}" if keys[1] else "")
        if app in teams:
            owned.append(f"• {team_text(teams[app], rotations.get(app))} · {when}")
        elif keys is None or keys[0]:
            unowned.append(f"• `{shown(app)}` · {when}")
    await _audit(rt, actor, "teams", "ok", None)
    lines = (owned or ["No teams yet."]) + ["*Application users with keys but no team*"] + (unowned or ["None."])
    await say("*Teams*", section_blocks(lines, more="The rest of this list is too long for Slack; "
                                              "`/apikey admin team &lt;app-user&gt;` shows one team."))
