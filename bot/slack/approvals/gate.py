"""The key policy at every submission that makes a key: the create form (personal and `--for`), and Renew
(personal and team). Called once the submission is acknowledged and the person is known; the policy is
decided again there (the form only offered what it allowed when it was drawn)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.approvals import Ask, Renewal
from bot.domain.durations import humanize_hours
from bot.domain.key_policy import Kind, NeedsApproval, Refused
from bot.domain.policy import ValidityPolicy
from bot.identity import Identity
from bot.policy import PolicyUnavailable
from bot.slack.blocks.approvals import REASON_BLOCK, REASON_INPUT, requested_modal
from bot.slack.blocks.common import info_modal
from bot.slack.common import OpenForm, metadata, redraw_form, state_value, update_view

Redraw = Callable[[ValidityPolicy, str], dict[str, Any]]


def reason_of(view: dict[str, Any]) -> str:
    raw = state_value(view, REASON_BLOCK, REASON_INPUT).get("value")
    return " ".join(raw.split()) if isinstance(raw, str) else ""


def reason_missing(view: dict[str, Any], hours: int | None) -> bool:
    """Before the acknowledgement: the form said (`aa`, a hint) that this validity needs approval, and no
    reason was given. Only a hint for an inline error; the policy decides again after."""
    hint = metadata(view).get("aa", "")
    return bool(hours and hint.isascii() and hint.isdigit() and hours > int(hint) and not reason_of(view))


def missing_reason_text(hours: int) -> str:
    return f"A key of {humanize_hours(hours)} needs approval: say what it is for, and why this long."


async def govern(rt: Runtime, client: AsyncWebClient, view: dict[str, Any], view_id: str, *, owner: Identity,
                 kind: Kind, name: str | None, hours: int, title: str, redraw: Redraw | None = None,
                 renew: Renewal | None = None) -> bool:
    """True: the policy allows this key now; make it. False: the modal now says why not, or that it was
    asked for (a request for approval is open)."""
    slack_user = owner.slack_user_id
    try:
        decision = await rt.governance.decide(slack_user, kind, hours)
    except PolicyUnavailable as exc:
        await update_view(client, view_id, info_modal(title, f":x: {exc}"))
        return False
    if isinstance(decision, Refused):
        await _refuse(rt, client, view_id, slack_user, kind, title, redraw, decision.sentence + " Nothing was created.")
        return False
    if not isinstance(decision, NeedsApproval):
        return True
    reason = reason_of(view)
    if not reason:
        await _refuse(rt, client, view_id, slack_user, kind, title, redraw, missing_reason_text(hours))
        return False
    opened = await rt.approvals.open(Ask(requester=slack_user, kind=kind, dataos_user_id=owner.dataos_user_id,
                                         hours=hours, reason=reason, key_name=name, renew=renew,
                                         origin_ref=view_id))
    if isinstance(opened, str):
        await update_view(client, view_id, info_modal(title, f":x: {opened}"))
        return False
    await update_view(client, view_id, requested_modal(opened.request, deciders=opened.deciders,
                                                       channel=opened.channel, told=opened.approvers_told))
    return False


async def _refuse(rt: Runtime, client: AsyncWebClient, view_id: str, slack_user: str, kind: Kind, title: str,
                  redraw: Redraw | None, sentence: str) -> None:
    if redraw is not None:
        try:
            policy = await rt.governance.form_policy(slack_user, kind)
        except PolicyUnavailable:
            policy = rt.policy
        await update_view(client, view_id, redraw(policy, sentence))
        return
    await update_view(client, view_id, info_modal(title, f":x: {sentence} Open the form again to choose another "
                                                         "validity."))


async def fit_form(rt: Runtime, client: AsyncWebClient, form: OpenForm, slack_user: str, kind: Kind,
                   build: Callable[[ValidityPolicy], dict[str, Any]]) -> ValidityPolicy:
    """A form opened at once (the trigger expires) with the defaults' rule, redrawn for the person's own rule
    when that differs (its validities, and which need approval). Nothing happens without a key policy."""
    opening = rt.governance.opening_form()
    if not rt.governance.enabled:
        return opening
    try:
        policy = await rt.governance.form_policy(slack_user, kind)
    except PolicyUnavailable:
        return opening  # the submission is decided again, and says so then
    if policy != opening:
        await redraw_form(client, form, build(policy))
    return policy


async def person_form(rt: Runtime, slack_user: str, kind: Kind) -> ValidityPolicy:
    """The form for this person's rule (the defaults' when Slack cannot say: the submission decides again)."""
    try:
        return await rt.governance.form_policy(slack_user, kind)
    except PolicyUnavailable:
        return rt.governance.opening_form()
