"""The one owner check: who may see and act on an application user's keys. It sits below the team package
(`bot.slack.teams`) and the Home tab, which both build team sections from it.

Every team section, select and button (`/apikey list`, the Home tab, the create form's "For", every
action) is built or honoured only for someone `owned_teams` or `act_as` admits, and both decide through
`_refused`: the acting Slack user must be admitted (no guest even with ALLOW_GUESTS=true, no one from
another organisation, not deactivated, not a bot), the application user must not be the bot's own, and
the person must own the team now (directly, or through a user group asked of Slack at most 5 minutes
ago). Owning a team needs nothing else: an on-call member whose e-mail matches no DataOS person owns it
as well as anyone. Before anyone acts for a team, DataOS is asked again what its user is
(`team_kind_problem`): if that id was re-created as a person, the team acts on nothing and the admins are
told once.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Literal

from bot.app import Runtime
from bot.dataos import DataOSError, DataOSNotFound, User
from bot.identity import Identity
from bot.slack.errors import explain
from bot.store import Audit
from bot.store.teams import Team
from bot.teams import describe_owners
from bot.text import shown

log = logging.getLogger(__name__)
#: A mark claimed once per team (its user and when it was made) when that user is found not to be an
#: application user any more, so the admins hear of it once across replicas.
KIND_MARK = "team-kind:"
#: A mark claimed once and never due again.
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def refusal(team: Team | None, app_user_id: str) -> str:
    """The one sentence anyone who may not act on an application user's keys reads."""
    if team is None:
        return (f"`{shown(app_user_id)}` has no team, so only platform admins manage its keys. Nothing was "
                "changed.")
    return (f"The keys of `{shown(app_user_id)}` belong to its team: {describe_owners(team)}. Ask one of them. "
            "Nothing was changed.")


async def _refused(rt: Runtime, slack_user: str, app_user_id: str, team: Team | None, *,
                   admins_may: bool = False, admitted: bool = False) -> tuple[str, str] | None:
    """(reason, sentence) if `slack_user` may not act for `app_user_id` now, else None. The one decision."""
    if not admitted:
        # Guests never act for a team, whatever ALLOW_GUESTS says for their own keys.
        denied = await rt.resolver.admission(slack_user, allow_guests=False)
        if denied is not None:
            return denied.reason, denied.message
    if app_user_id and app_user_id == await rt.keys.operator_user_id():
        # A team made for a user that later became the bot's own (DATAOS_APIKEY rotated to it) holds nothing.
        return "operator", (f"`{shown(app_user_id)}` is the bot's own DataOS user: its keys are the bot's, and no "
                            "team acts on them. Nothing was changed.")
    if admins_may and slack_user in rt.admins and team is not None:
        return None
    if team is None or not await rt.teams.is_owner(slack_user, team):
        return "not-owner", refusal(team, app_user_id)
    return None


async def act_as(rt: Runtime, slack_user: str, app_user_id: str, action: str, *,
                 admins_may: bool = False) -> tuple[Identity, Team] | str:
    """The owner acting for `app_user_id`, or the sentence saying why not (audited). `admins_may`: a platform
    admin may act too (a leaked team key's buttons)."""
    team = await rt.teams.team_of(app_user_id) if app_user_id else None
    found = await _refused(rt, slack_user, app_user_id, team, admins_may=admins_may)
    if found is None and team is not None:
        problem = await team_kind_problem(rt, team)
        if problem is not None:
            found = problem
    if found is not None:
        reason, message = found
        await _audit_refusal(rt, slack_user, app_user_id, action, reason)
        return message
    assert team is not None
    how: Literal["team owner", "admin"] = ("team owner" if slack_user not in rt.admins or
                                           await rt.teams.is_owner(slack_user, team) else "admin")
    return Identity(slack_user, app_user_id, how), team


async def owned_teams(rt: Runtime, slack_user: str) -> list[Team] | None:
    """The teams the person may see and act for now (the same decision as `act_as`); None if that could not
    be found out. A guest, an outsider or a deactivated account owns none."""
    try:
        if await rt.resolver.admission(slack_user, allow_guests=False) is not None:
            return []
        return [team for team in await rt.teams.all()
                if await _refused(rt, slack_user, team.app_user_id, team, admitted=True) is None]
    except Exception as exc:
        log.warning("could not find the teams %s owns: %s", slack_user, type(exc).__name__)
        return None


async def team_kind_problem(rt: Runtime, team: Team) -> tuple[str, str] | None:
    """(reason, sentence) if the team's DataOS user is not an application user now, or DataOS cannot say;
    None if it is. Asked of DataOS itself, not of the cached directory (which is refreshed when it is wrong)."""
    app = team.app_user_id
    try:
        user: User | None = await rt.dataos.get_user(app)
    except DataOSNotFound:
        user = None
    except DataOSError as exc:  # said as every other DataOS failure is: nothing was done for the team
        log.warning("could not check what DataOS user %s is: %s", app, exc)
        return "unavailable", explain(exc, doing=f"checking what `{shown(app)}` is for its team", read=True)
    if user is not None and user.type == "application" and not user.is_operator:
        return None
    cached = await _cached(rt, app)
    if cached is not None and (user is None or cached.type != user.type):
        try:  # the directory still thinks otherwise: e-mail matching and the admins' lists follow DataOS now
            await rt.directory.refresh()
        except DataOSError as exc:
            log.warning("could not refresh the DataOS directory: %s", exc)
    what = ("no longer exists in DataOS" if user is None else "is a person in DataOS now" if user.is_person else
            "is an operator user" if user.is_operator else "is not an application user in DataOS now")
    await _tell_admins_once(rt, team, what)
    return "not-application", (f"`{shown(app)}` {what}, so its team acts on nothing: no keys are listed, made, "
                               "shown or revoked for it. The platform admins have been told. Nothing was changed.")


async def _cached(rt: Runtime, app: str) -> User | None:
    try:
        return await rt.directory.get(app)
    except DataOSError:
        return None


async def _tell_admins_once(rt: Runtime, team: Team, what: str) -> None:
    """Each admin gets a DM, once per team (across replicas: a mark is claimed first)."""
    made = f"{team.app_user_id}\0{team.created_at.isoformat()}".encode()
    mark = KIND_MARK + hashlib.sha256(made).hexdigest()[:20]
    try:
        if await rt.marks.claim_mark(mark, now=rt.clock(), older_than=_NEVER) is None:
            return
    except Exception as exc:
        log.warning("could not record that the admins were told about team %s: %s", team.app_user_id,
                    type(exc).__name__)
        return
    text = (f":warning: DataOS user `{shown(team.app_user_id)}` {what}, but it has a team (channel "
            f"<#{team.channel_id}>, owners {describe_owners(team)}). Until it is an application user again the team "
            "acts on nothing: no lists, new keys, reveals, revokes, reminders or leak reports for it. Check the user "
            f"in DataOS; `/apikey admin team {shown(team.app_user_id, 80)} remove` ends the team.")
    for admin in sorted(rt.admins):
        await rt.dm(admin, text)


async def _audit_refusal(rt: Runtime, actor: str, app_user_id: str, action: str, reason: str) -> None:
    await rt.keys.trail.record(Audit(at=rt.clock(), actor_slack_id=actor, action=action,
                                     outcome=f"refused:{reason}"[:32], dataos_user_id=app_user_id[:255] or None,
                                     detail="team key"))
