"""The Home tab (`app_home_opened`, `views.publish`), refreshed when opened and after each action."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.app import Runtime
from bot.dataos import DataOSError, Token
from bot.identity import Denied, failure
from bot.slack import tracked
from bot.slack.blocks.approvals import home_blocks
from bot.slack.blocks.common import text_message
from bot.slack.blocks.home import home_view
from bot.slack.blocks.ids import HOME_REMINDERS_ACTION
from bot.slack.blocks.teams import team_key_blocks
from bot.slack.common import scheduled_revocations, user_id
from bot.slack.errors import explain
from bot.slack.owners import owned_teams, team_kind_problem
from bot.store.pending import Scheduled
from bot.text import shown

log = logging.getLogger(__name__)


async def publish_home(rt: Runtime, slack_user: str, *, notice: str | None = None) -> None:
    """Best-effort: the Home tab is a view of state kept elsewhere; failing to draw it changes nothing."""
    if not rt.settings.home_tab or not slack_user:
        return
    try:
        identity = await rt.keys.identify(slack_user)
        tokens: list[Token] = []
        problem = None
        scheduled: Scheduled = {}
        if not isinstance(identity, Denied):
            try:
                tokens = await rt.keys.list_keys(identity)
            except DataOSError as exc:
                problem = explain(exc, doing="listing your keys", read=True)
            scheduled = await scheduled_revocations(rt.revocations, identity.dataos_user_id)
        reminders_on = await rt.prefs.reminders_enabled(slack_user)
        view = home_view(identity, tokens, rt.clock(), reminders_on=reminders_on, notice=notice,
                         problem=problem, scheduled=scheduled)
        # An owner needs no DataOS user of their own; `owned_teams` admits no guest or outsider.
        room = 100 - len(view["blocks"])
        extra = await team_home_blocks(rt, slack_user, room, quiet=isinstance(identity, Denied))
        view = dict(view, blocks=view["blocks"] + extra)
        room = 100 - len(view["blocks"])
        view = dict(view, blocks=view["blocks"] + await home_section(rt, slack_user, room))
        await rt.slack.views_publish(user_id=slack_user, view=view)
    except Exception as exc:
        log.warning("could not publish the Home tab of %s: %s", slack_user, failure(exc))


async def team_home_blocks(rt: Runtime, slack_user: str, room: int, *, quiet: bool = False) -> list[dict[str, Any]]:
    """After "Your keys": a section per application user the person owns (within Home's 100 blocks), as the
    one owner check admits; `quiet`: say nothing when that cannot be found out (someone with no DataOS user
    of their own, who most likely owns nothing)."""
    found: list[dict[str, Any]] = []
    teams = await owned_teams(rt, slack_user)
    if teams is None:  # the person's own keys still show
        return [] if quiet else [{"type": "section", "text": {"type": "mrkdwn", "text": ":x: I could not look up "
                                  "the application users you own just now; their keys are not shown. Please try "
                                  "again in a minute."}}]
    room -= 1  # kept for the line naming those that do not fit
    for i, team in enumerate(teams):
        problem = await team_kind_problem(rt, team)
        if problem is not None:
            section = [text_message(f":no_entry: {problem[1]}").blocks[0]]
        else:
            try:
                tokens = sorted(await rt.dataos.list_tokens(team.app_user_id), key=lambda t: (t.expiration, t.name))
            except DataOSError as exc:
                section = [text_message(":x: " + explain(
                    exc, doing=f"listing the keys of {shown(team.app_user_id)}", read=True)).blocks[0]]
            else:
                section = [b.to_dict() for b in team_key_blocks(team, tokens, rt.clock())]
        section = [{"type": "divider"}, *section]
        if len(found) + len(section) > room:  # never dropped in silence: said, with where to see them
            left = len(teams) - i
            found.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
                f"…and {left} more application user{'s' if left != 1 else ''} you own; "
                "`/apikey list &lt;app-user&gt;` shows the keys of one.")}]})
            break
        found += section
    return found


async def home_section(rt: Runtime, slack_user: str, room: int) -> list[dict[str, Any]]:
    """The approval requests: the person's open ones (Cancel) and those waiting for them (Approve, Deny)."""
    try:
        mine = await rt.approval_requests.open_requests(requester=slack_user)
        waiting = await rt.approvals.waiting_for(slack_user)
    except Exception as exc:  # the rest of the Home tab still shows
        log.warning("could not read the approval requests of %s: %s", slack_user, type(exc).__name__)
        return []
    return home_blocks(mine, waiting, room)


def from_home(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "home"


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            async with rt.work():
                await publish_home(rt, str(event.get("user") or ""))

    @app.action(HOME_REMINDERS_ACTION)
    @tracked(rt, "action", "home_reminders")
    async def on_reminders_toggle(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        on = str(actions[0].get("value") or "") == "on"
        await rt.prefs.set_reminders_enabled(user_id(body), on, rt.clock())
        await publish_home(rt, user_id(body))
