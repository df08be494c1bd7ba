"""Block Kit of approvals (issue #28): the request approvers read (Approve / Deny while it is open, what
became of it after), the requester's modal and DMs, `/apikey requests`, the Home tab's section, the Deny
reason form and `/apikey policy`. Never a key: names, validities, people and times."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.domain.durations import humanize_hours
from bot.domain.key_policy import Rule, rule_summary
from bot.domain.keys import key_ref
from bot.slack.blocks.common import Message, info_modal, md, message_from, meta_json, render_id, slack_date
from bot.store.approvals import Request
from bot.text import shown

APPROVE_ACTION = "approval_approve"
DENY_ACTION = "approval_deny"
CANCEL_ACTION = "approval_cancel"
DENY_VIEW = "approval_deny_reason"
DENY_BLOCK, DENY_INPUT = "deny_reason_block", "deny_reason"
#: The create and renew forms' reason, asked when a validity on offer needs approval.
REASON_BLOCK, REASON_INPUT = "reason_block", "reason"
#: Requests of each kind listed in one `/apikey requests` answer (2 blocks each, within 50).
LISTED = 10


def request_value(request: Request) -> str:
    """An Approve/Deny/Cancel button: exactly which request and which key (never a secret)."""
    return json.dumps({"r": request.id, "n": key_ref(request.key_name)}, separators=(",", ":"))


def parse_request_value(value: str) -> tuple[str, str] | None:
    try:
        data = json.loads(value)
        request_id, name = str(data["r"]), str(data["n"])
    except (ValueError, KeyError, TypeError):
        return None
    if not request_id or len(request_id) > 32 or not name or len(name) > 255:
        return None
    return request_id, name


def _whose(request: Request) -> str:
    if request.kind == "team":
        return f"application user `{shown(request.dataos_user_id)}`"
    return f"<@{request.requester}> (DataOS user `{shown(request.dataos_user_id)}`)"


def status_line(request: Request) -> str | None:
    """What became of a request, for the messages that showed it; None while it is open."""
    who = f"<@{request.decided_by}>" if request.decided_by else "someone"
    when = slack_date(request.decided_at) if request.decided_at else ""
    if request.state == "approved":
        done = {
            "delivered": f"key `{shown(request.key_name)}` created"
                         + (f", valid until {slack_date(request.key_expiration)}" if request.key_expiration else "")
                         + f", and sent to <@{request.requester}> privately",
            "unknown": f"key `{shown(request.key_name)}` created (Slack did not confirm its delivery)",
            "failed": "but the key was not made; the requester was told why",
        }.get(request.delivery or "", "creating the key…")
        return f":white_check_mark: Approved by {who} {when}; {done}."
    if request.state == "denied":
        reason = f": “{shown(request.note, 500)}”" if request.note else ""
        return f":no_entry: Denied by {who} {when}{reason}."
    if request.state == "cancelled":
        return f":heavy_multiplication_x: Cancelled by {who} {when}; nothing was created."
    if request.state == "expired":
        return f":hourglass: Expired {slack_date(request.expires_at)} without a decision; nothing was created."
    return None


def _request_blocks(request: Request, *, deciders: str, reminder: bool, render: str,
                    buttons: bool = True) -> list[Block]:
    opening = (":bell: *Reminder: still waiting for a decision.* " if reminder else "") + \
        f":raised_hand: <@{request.requester}> asks for a DataOS key that needs approval."
    facts = [f"*For:* {_whose(request)}", f"*Name:* `{shown(request.key_name)}`",
             f"*Valid for:* {humanize_hours(request.hours)}"]
    if request.renew_name:
        facts.append(f"*Renews:* `{shown(request.renew_name)}`")
    blocks: list[Block] = [
        SectionBlock(text=md(opening)),
        SectionBlock(fields=[md(f) for f in facts]),
        SectionBlock(text=md(f"*Reason:* {shown(request.reason, 500)}")),
        ContextBlock(elements=[md(f"Who decides: {deciders}. The request expires {slack_date(request.expires_at)} "
                                  f"· `{request.id}`")]),
    ]
    status = status_line(request)
    if status is not None:
        blocks.append(SectionBlock(text=md(status)))
    elif buttons:
        value = request_value(request)
        blocks.append(ActionsBlock(block_id=f"approval:{render}:{request.id}", elements=[
            ButtonElement(text="Approve", action_id=APPROVE_ACTION, value=value, style="primary",
                          confirm=ConfirmObject(
                              title="Approve this key?",
                              text=f"<@{request.requester}> gets `{shown(request.key_name, 80)}`, valid for "
                                   f"{humanize_hours(request.hours)}, made at once and sent to them privately.",
                              confirm="Approve", deny="Not yet")),
            ButtonElement(text="Deny", action_id=DENY_ACTION, value=value, style="danger"),
        ]))
    return blocks


def request_message(request: Request, *, deciders: str, reminder: bool = False) -> Message:
    text = (f"{'Reminder: ' if reminder else ''}<@{request.requester}> asks for `{shown(request.key_name, 80)}` "
            f"({humanize_hours(request.hours)}), which needs approval")
    status = status_line(request)
    if status is not None:
        text = f"{text}. {status}"
    return message_from(text, _request_blocks(request, deciders=deciders, reminder=reminder, render=render_id()))


def requested_modal(request: Request, *, deciders: str, channel: str | None, told: int) -> dict[str, Any]:
    """What the requester's form turns into: who decides, where it went, that the key arrives by DM."""
    where = (f"I posted it in <#{channel}>" if channel else
             f"I sent it to {told} approver{'s' if told != 1 else ''} by DM")
    text = (f":hourglass_flowing_sand: A key of {humanize_hours(request.hours)} needs approval, so I asked for it: "
            f"`{shown(request.key_name)}` for {_whose(request)}.\n*Who decides:* {deciders}. {where}.\n"
            f"Once it is approved the key is made and arrives privately in your DM with me. The request expires "
            f"{slack_date(request.expires_at)}; `/apikey requests` shows it and lets you cancel it.")
    return info_modal("Approval requested", text)


def requester_text(request: Request, event: str, detail: str | None = None) -> str:
    """The requester's DM (kept by Slack: never the key)."""
    about = f"your request for `{shown(request.key_name)}` ({humanize_hours(request.hours)}, `{request.id}`)"
    who = f"<@{request.decided_by}>" if request.decided_by else "someone"
    texts = {
        "approved": f":white_check_mark: {who} approved {about}. I am making the key now; it comes to you "
                    "privately in a moment.",
        "denied": f":no_entry: {who} denied {about}"
                  + (f": “{shown(request.note, 500)}”" if request.note else ".") + " Nothing was created.",
        "expired": f":hourglass: Nobody decided {about} before it expired {slack_date(request.expires_at)}. "
                   "Nothing was created; ask again with `/apikey create` if you still need it.",
        "delivered": f":key: `{shown(request.key_name)}` was made"
                     + (f", valid until {slack_date(request.key_expiration)}" if request.key_expiration else "")
                     + ". I sent it to you privately in this conversation (only you see it, and it goes when you "
                       "reload); if it did not arrive, Reveal it from `/apikey list`.",
        "undelivered": f":warning: `{shown(request.key_name)}` was made, but I could not show it to you privately. "
                       "Reveal it from `/apikey list`.",
        "not made": f":x: {about[0].upper()}{about[1:]} was approved, but the key was not made.",
        "cancelled": f"You cancelled {about}. Nothing was created.",
    }
    text = texts.get(event, about)
    if detail:
        text += f" {detail}"
    return text


def deny_modal(request_id: str, key_name: str, requester: str) -> dict[str, Any]:
    return View(type="modal", callback_id=DENY_VIEW, title="Deny a request", submit="Deny", close="Back",
                private_metadata=meta_json(r=request_id, n=key_ref(key_name)), blocks=[
                    SectionBlock(text=md(f"Deny `{shown(key_name, 80)}` for <@{requester}>? They read your reason.")),
                    InputBlock(block_id=DENY_BLOCK, label="Reason", element=PlainTextInputElement(
                        action_id=DENY_INPUT, multiline=True, max_length=500,
                        placeholder="e.g. 30 days is enough for a CI key")),
                ]).to_dict()


def reason_input(render: str = "") -> InputBlock:
    suffix = f"~{render}" if render else ""
    return InputBlock(block_id=REASON_BLOCK + suffix, optional=True, label="Reason (for approval)",
                      element=PlainTextInputElement(action_id=REASON_INPUT, multiline=True, max_length=500,
                                                    placeholder="What is the key for, and why this long?"),
                      hint="Needed only for a validity marked “needs approval”: the approvers read it.")


def _listed(requests: Sequence[Request], *, render: str, mine: bool) -> list[Block]:
    blocks: list[Block] = []
    for request in requests[:LISTED]:
        blocks.append(SectionBlock(text=md(
            f"`{shown(request.key_name)}` · {humanize_hours(request.hours)} for {_whose(request)} · expires "
            f"{slack_date(request.expires_at)} · `{request.id}`\n*Reason:* {shown(request.reason, 300)}")))
        value = request_value(request)
        elements = [ButtonElement(text="Cancel request", action_id=CANCEL_ACTION, value=value,
                                  confirm=ConfirmObject(title="Cancel this request?", text=(
                                      f"The approvers are told; `{shown(request.key_name, 80)}` is not made."),
                                      confirm="Cancel it", deny="Keep it"))] if mine else [
            ButtonElement(text="Approve", action_id=APPROVE_ACTION, value=value, style="primary",
                          confirm=ConfirmObject(title="Approve this key?", text=(
                              f"<@{request.requester}> gets `{shown(request.key_name, 80)}` for "
                              f"{humanize_hours(request.hours)}, sent to them privately."),
                              confirm="Approve", deny="Not yet")),
            ButtonElement(text="Deny", action_id=DENY_ACTION, value=value, style="danger")]
        blocks.append(ActionsBlock(block_id=f"request:{render}:{request.id}", elements=elements))
    if len(requests) > LISTED:
        blocks.append(ContextBlock(elements=[md(f"And {len(requests) - LISTED} more.")]))
    return blocks


def requests_blocks(mine: Sequence[Request], waiting: Sequence[Request], *, header: bool = True) -> list[Block]:
    render = render_id()
    blocks: list[Block] = []
    if header:
        blocks.append(HeaderBlock(text="Approval requests"))
    blocks.append(SectionBlock(text=md("*Your open requests*" if mine else "You have no open requests.")))
    blocks += _listed(mine, render=render, mine=True)
    if waiting:
        blocks.append(SectionBlock(text=md(f"*Waiting for your decision* ({len(waiting)})")))
        blocks += _listed(waiting, render=render, mine=False)
    return blocks


def requests_message(mine: Sequence[Request], waiting: Sequence[Request]) -> Message:
    text = f"{len(mine)} open request{'s' if len(mine) != 1 else ''} of yours, {len(waiting)} waiting for you"
    return message_from(text, requests_blocks(mine, waiting))


def policy_message(personal: Rule, team: Rule | None, *, source: str | None) -> Message:
    """`/apikey policy`: the rule that applies to the caller, for each kind of key."""
    if source is None:
        lines = [f"No key policy is set: anyone may create keys valid up to {humanize_hours(personal.max_hours)} "
                 "(MAX_VALIDITY), and none needs approval."]
    else:
        lines = [f"*Your key policy* ({personal.label}" + (f", line {personal.line}" if personal.line else "")
                 + f" of `{shown(source.rsplit('/', 1)[-1], 80)}`)", rule_summary(personal, "personal")]
        if team is not None:
            lines.append(rule_summary(team, "team") + (f" ({team.label})" if team is not personal else ""))
    return message_from(lines[0], [SectionBlock(text=md("\n".join(lines)))])


def home_blocks(mine: Sequence[Request], waiting: Sequence[Request], room: int) -> list[dict[str, Any]]:
    """The Home tab's section: the person's open requests and those waiting for them (within `room`)."""
    if (not mine and not waiting) or room < 4:
        return []
    blocks = [b.to_dict() for b in requests_blocks(mine[:5], waiting[:5], header=False)]
    return [{"type": "divider"}, *blocks][:room]
