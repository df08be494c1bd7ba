"""The step "Request a key for an application user": the requester must own the application user's team
(the bot's one owner check, `bot.slack.owners`); the key policy decides as for `/apikey create --for`. A key
that needs no approval is made at once; otherwise an approval request is opened (`bot.approvals`, origin
"workflow", its `origin_ref` the execution id) and the step waits: it completes once the request is
approved (and its key made), denied, cancelled or expired, with `decision`, `decided_by` and `key_name`.
The key always goes to the requester privately; the team's channel hears that it was made, never the key.

The wait survives restarts: the execution id is in the request and in the run's row, and the completion,
made with the bot's own token (the function's token is long gone by then, and never stored), is claimed
once. The approval service tells this module when a request settles (`on_outcome`), on the replica where
it happened; the governance pass (`finish_settled`) completes any run whose request settled while no
subscriber could (a replica died in between, Slack refused for a moment).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import Ask
from bot.dataos import DataOSError, Token
from bot.domain.durations import InvalidDuration, humanize_hours
from bot.domain.key_policy import NeedsApproval, Refused
from bot.policy import PolicyUnavailable
from bot.service import Duplicate, StoreUnavailable
from bot.slack.blocks.teams import created_line
from bot.slack.errors import explain
from bot.slack.owners import act_as
from bot.slack.teams.channel import tell_team
from bot.slack.teams.delivery import deliver_team_secret
from bot.slack.workflows.definitions import REQUEST_APP_KEY
from bot.slack.workflows.runs import StepFailed, complete, first_delivery, inputs_of, text_input, user_input
from bot.store.approvals import OPEN, Request
from bot.store.workflow_runs import UNFINISHED
from bot.text import escape, shown

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
#: The approval service's name for requests a workflow step opened.
ORIGIN = "workflow"


async def run(rt: Runtime, client: AsyncWebClient, event: dict[str, Any]) -> None:
    execution = await first_delivery(rt, event)
    if execution is None:
        return
    inputs = inputs_of(event)
    requester = ""
    try:
        requester = user_input(inputs, "requester")
        app_user = text_input(inputs, "app_user", 255)
        if not requester or not app_user:
            raise StepFailed("The step needs a requester and an application user. Nothing was requested.")
        outputs = await _ask(rt, requester, app_user, inputs, execution)
    except StepFailed as exc:
        if requester and await rt.resolver.admission(requester, allow_guests=False) is None:
            await rt.dm(requester, f":x: A workflow asked for a DataOS key on your behalf, and I did not make it: "
                                   f"{exc}")
        await complete(rt, client, execution, REQUEST_APP_KEY, error=str(exc))
        return
    if outputs is not None:
        await complete(rt, client, execution, REQUEST_APP_KEY, outputs=outputs)


async def _ask(rt: Runtime, requester: str, app_user: str, inputs: dict[str, Any],
               execution: str) -> dict[str, Any] | None:
    """The outputs of a key made at once, or None: an approval request is open and the step waits."""
    try:
        hours = rt.policy.parse(text_input(inputs, "validity", 32))
    except InvalidDuration as exc:
        raise StepFailed(f"{escape(str(exc))} Nothing was requested.") from None
    acting = await act_as(rt, requester, app_user, "workflow request")
    if isinstance(acting, str):
        raise StepFailed(acting)
    identity, team = acting
    try:
        decision = await rt.governance.decide(requester, "team", hours)
    except PolicyUnavailable as exc:
        raise StepFailed(str(exc)) from None
    if isinstance(decision, Refused):
        raise StepFailed(decision.sentence + " Nothing was created.")
    if isinstance(decision, NeedsApproval):
        opened = await rt.approvals.open(Ask(
            requester=requester, kind="team", dataos_user_id=app_user, hours=hours,
            reason=text_input(inputs, "reason", 1000), origin=ORIGIN, origin_ref=execution))
        if isinstance(opened, str):
            raise StepFailed(opened)
        await rt.workflow_runs.wait_for(execution, opened.request.id)
        await rt.dm(requester, f":hourglass: A workflow asked, for you, for a key of {humanize_hours(hours)} for "
                               f"`{shown(app_user)}` (request `{opened.request.id}`). {opened.deciders} decide; the "
                               "key arrives privately in this DM once it is approved, and the workflow goes on then.")
        return None
    try:
        result = await rt.keys.create_key(identity, name=None, hours=hours, request_id=f"workflow:{execution}")
    except DataOSError as exc:
        raise StepFailed(explain(exc, doing=f"creating a key for {shown(app_user)}")) from None
    except StoreUnavailable as exc:
        raise StepFailed(str(exc)) from None
    if isinstance(result, Duplicate):
        raise StepFailed("This step's key is already being made. Nothing more was created.")
    await _deliver(rt, requester, app_user, team, result)
    return {"decision": "approved", "key_name": result.name}


async def _deliver(rt: Runtime, requester: str, app_user: str, team: Any, token: Token) -> None:
    if not await deliver_team_secret(rt.slack, requester, app_user, token, rt):
        await rt.dm(requester, f":warning: A workflow created the key `{shown(token.name)}` for "
                               f"`{shown(app_user)}`, but Slack did not take the private message with it. "
                               f"`/apikey list {shown(app_user, 80)}` can reveal it.")
    await tell_team(rt, team, created_line(requester, token.name, app_user, token.expiration))


def settled(request: Request) -> tuple[dict[str, Any] | None, str | None] | None:
    """(outputs, error) for a request that is settled, or None while the step must still wait."""
    if request.state == OPEN:
        return None
    decided = {"decided_by": request.decided_by} if request.decided_by else {}
    if request.state != "approved":
        return {"decision": request.state, **decided}, None
    if request.delivery in ("delivered", "unknown"):
        return {"decision": "approved", **decided, "key_name": request.key_name}, None
    if request.delivery == "failed":
        return None, (f"The request was approved by <@{request.decided_by}>, but the key was not made; "
                      f"<@{request.requester}> was told why.")
    return None  # approved, its key not made yet: the approval service (or its next pass) makes it


async def finish(rt: Runtime, request: Request) -> str:
    """Complete the step that opened `request` if it settled (once: the run's completion is claimed)."""
    execution = request.origin_ref
    if request.origin != ORIGIN or not execution:
        return "skipped"
    run_ = await rt.workflow_runs.get_run(execution)
    outcome = settled(request)
    if run_ is None or run_.state not in UNFINISHED or outcome is None:
        return "skipped"
    outputs, error = outcome
    return await complete(rt, rt.slack, execution, REQUEST_APP_KEY, outputs=outputs, error=error, later=True)


def subscribe(rt: Runtime) -> None:
    """Each decision on a request a step opened finishes that step (once: `finish` claims it)."""

    async def on_outcome(settled_request: Request) -> None:
        await finish(rt, settled_request)

    rt.approvals.on_outcome(ORIGIN, on_outcome)


async def finish_settled(rt: Runtime) -> int:
    """The governance pass's share: steps whose request settled and that nobody completed yet."""
    done = 0
    for waiting in await rt.workflow_runs.waiting_runs():
        request = await rt.approval_requests.get(waiting.request_id or "")
        if request is not None and await finish(rt, request) == "done":
            done += 1
    return done
