"""Approvals (issue #28): a key above the policy's `approval_above` is made only once someone the policy
names has approved it.

Any caller opens a request (`open`: a Slack form, a renewal, a workflow step), and is told the outcome by
a subscriber (`on_outcome`); the key always goes privately to the requester, never to the caller. The
first decision wins once across replicas (a conditional UPDATE); the approver and the request are checked
again at the click; the key is made exactly once (its delivery is claimed, and the create is idempotent
on the request's id), so a replica that dies between the approval and the delivery leaves it to the next
pass of `deliver_pending`, which delivers it once. Every step is audited.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.approvals.delivery import KeyMaker
from bot.approvals.surface import Ask, Opened, Surface
from bot.audit import AuditTrail
from bot.domain.durations import humanize_hours
from bot.domain.key_policy import NeedsApproval, Refused
from bot.domain.keys import key_ref
from bot.domain.names import generate_key_name
from bot.policy import Governance, PolicyUnavailable
from bot.store import Audit
from bot.store.approvals import OPEN, Approvals, Request
from bot.text import escape

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Subscriber = Callable[[Request], Awaitable[None]]
#: A reason is what approvers read; this is plenty, and keeps the request's message within Slack's limits.
REASON_MAX = 500


class ApprovalService:
    def __init__(self, repo: Approvals, governance: Governance, maker: KeyMaker, trail: AuditTrail,
                 clock: Clock) -> None:
        self.repo = repo
        self.governance = governance
        self.maker = maker
        self.trail = trail
        self.clock = clock
        #: Set at composition (`bot.compose`): where requests are shown. Without it nothing can be asked.
        self.surface: Surface | None = None
        self._subscribers: dict[str, list[Subscriber]] = {}

    def on_outcome(self, origin: str, subscriber: Subscriber) -> None:
        """Call `subscriber` with the request each time a request opened with this `origin` is decided,
        cancelled, expires, or has its key delivered (or not): on the replica where that happened, once."""
        self._subscribers.setdefault(origin, []).append(subscriber)

    async def _outcome(self, request: Request) -> None:
        for subscriber in self._subscribers.get(request.origin, ()):
            try:
                await subscriber(request)
            except Exception:
                log.exception("an approval subscriber of %s failed", request.origin)

    async def _audit(self, actor: str, action: str, outcome: str, request: Request, detail: str | None = None,
                     expiration: datetime | None = None) -> None:
        await self.trail.record(Audit(
            at=self.clock(), actor_slack_id=actor, dataos_user_id=request.dataos_user_id[:255], action=action,
            outcome=outcome[:32], key_name=request.key_name, key_expiration=expiration,
            detail=(detail or f"request {request.id}, {humanize_hours(request.hours)}")[:500]))

    # ---- asking ------------------------------------------------------------------------------

    async def open(self, ask: Ask) -> Opened | str:
        """Open a request, post it to the approvers, and say who decides; or the sentence saying why not
        (nothing is stored then). The caller has resolved `ask.dataos_user_id` and asked the policy first."""
        surface = self.surface
        if surface is None:
            return "Approvals are not available here. Nothing was requested."
        reason = " ".join(ask.reason.split())[:REASON_MAX]
        if not reason:
            return "A reason is needed: the approvers read it. Nothing was requested."
        try:
            decision = await self.governance.decide(ask.requester, ask.kind, ask.hours)
        except PolicyUnavailable as exc:
            return str(exc)
        if isinstance(decision, Refused):
            return decision.sentence + " Nothing was requested."
        if not isinstance(decision, NeedsApproval):
            return f"A key of {humanize_hours(ask.hours)} needs no approval; create it directly."
        app_user = ask.dataos_user_id if ask.kind == "team" else None
        approvers = await self.governance.approver_ids(decision.rule, requester=ask.requester, app_user_id=app_user)
        if not approvers:
            return ("Nobody can approve this request: the key policy names no approver who could decide it now "
                    "(and nobody approves their own). Nothing was requested; ask a platform admin.")
        now = self.clock()
        ttl = timedelta(hours=decision.ttl_hours)
        request = Request(
            id=secrets.token_hex(6), created_at=now, expires_at=now + ttl, remind_at=now + ttl / 2,
            requester=ask.requester, kind=ask.kind, dataos_user_id=ask.dataos_user_id,
            key_name=ask.key_name or generate_key_name(), hours=ask.hours, reason=reason,
            approvers=" ".join(decision.rule.approvers)[:1000], origin=ask.origin[:32],
            origin_ref=ask.origin_ref[:255] if ask.origin_ref else None,
            renew_name=ask.renew.name if ask.renew else None,
            renew_expiration=ask.renew.expiration if ask.renew else None,
            renew_choice=ask.renew.choice[:16] if ask.renew else None)
        await self.repo.add(request)
        deciders = await self.governance.approvers_text(decision.rule, app_user_id=app_user)
        posted = await surface.post(request, approvers=approvers, deciders=deciders)
        if not posted:
            await self.repo.cancel(request.id, by=request.requester, now=now)
            await self._audit(ask.requester, "approval request", "failed: not posted", request)
            return ("I could not post the request to any approver just now (Slack refused). Nothing was "
                    "requested; please try again in a minute, or tell a platform admin.")
        for place in posted:
            await self.repo.add_message(place)
        await self._audit(ask.requester, "approval request", "open", request,
                          detail=f"request {request.id}, {humanize_hours(request.hours)}: {reason}")
        channel = next((p.channel for p in posted if p.recipient == p.channel), None)
        return Opened(request, deciders, channel, len([p for p in posted if p.recipient != p.channel]))

    async def cancel(self, request_id: str, clicker: str) -> str:
        """The requester takes back an open request: the sentence they read."""
        request = await self.repo.get(request_id)
        if request is None or request.requester != clicker:
            return "That request is not one of yours (or no longer exists). Nothing was changed."
        if not await self.repo.cancel(request.id, by=clicker, now=self.clock()):
            return self.settled(await self.repo.get(request.id) or request)
        request = await self.repo.get(request.id) or request
        await self._audit(clicker, "approval cancel", "ok", request)
        await self._refresh(request)
        await self._outcome(request)
        return f"Request `{request.id}` for `{escape(request.key_name)}` cancelled; nothing was created."

    async def waiting_for(self, slack_user: str) -> list[Request]:
        """Open requests this person may decide now (by the rule that applies to each requester now)."""
        found = []
        for request in await self.repo.open_requests():
            try:
                rule = await self.governance.rule(request.requester, request.kind)  # type: ignore[arg-type]
            except PolicyUnavailable:
                continue
            if request.requester == slack_user and not rule.self_approval:
                continue
            if await self.governance.is_approver(slack_user, rule, app_user_id=request.app_user_id):
                found.append(request)
        return found

    # ---- deciding ----------------------------------------------------------------------------

    async def decide(self, request_id: str, clicker: str, *, approve: bool, key_name: str,
                     note: str | None = None) -> str:
        """Approve or deny from a click that names the exact request (its id and key name): checked again
        now, the first decision wins. Returns the sentence the clicker reads."""
        surface = self.surface
        request = await self.repo.get(request_id)
        if request is None or key_ref(request.key_name) != key_name or surface is None:
            return "That request no longer exists, or the button does not match it. Nothing was changed."
        now = self.clock()
        if request.state != OPEN:
            return self.settled(request)
        if request.expires_at <= now:
            await self.expire(request)
            return (f"This request expired {_when(request.expires_at)}, before anyone decided. Nothing was "
                    f"created; <@{request.requester}> can ask again.")
        action = "approval approve" if approve else "approval deny"
        refusal = await self.governance.may_approve(clicker, requester=request.requester, kind=request.kind,  # type: ignore[arg-type]
                                                    hours=request.hours, app_user_id=request.app_user_id,
                                                    approve=approve)
        if refusal is not None:
            await self._audit(clicker, action, "refused", request, detail=f"request {request.id}: {refusal}")
            return refusal
        note = " ".join((note or "").split())[:REASON_MAX] or None
        if not await self.repo.decide(request.id, "approved" if approve else "denied", by=clicker, now=now,
                                      note=note):
            latest = await self.repo.get(request.id) or request
            if latest.state == OPEN:  # not decided by anyone: it expired in between
                await self.expire(latest)
                latest = await self.repo.get(request.id) or latest
            return self.settled(latest)
        request = await self.repo.get(request.id) or request
        await self._audit(clicker, action, "ok", request, detail=(
            f"request {request.id} of <@{request.requester}>" + (f": {note}" if note else "")))
        await self._refresh(request)
        if not approve:
            await surface.tell_requester(request, "denied", note)
            await self._outcome(request)
            return f"Denied; <@{request.requester}> was told your reason. Nothing was created."
        await surface.tell_requester(request, "approved")
        done = await self.maker.deliver(request, surface)
        await self._after_delivery(done)
        return f"Approved; the key goes to <@{request.requester}> privately." if done is not None and \
            done.delivery == "delivered" else "Approved. " + _delivery_words(done)

    def settled(self, request: Request) -> str:
        """What someone who acts on a request that was already settled reads: by whom and when."""
        who = f"<@{request.decided_by}>" if request.decided_by else "someone"
        when = _when(request.decided_at) if request.decided_at else ""
        return {
            "approved": f"This request was already approved by {who} {when}.",
            "denied": f"This request was already denied by {who} {when}.",
            "cancelled": f"This request was cancelled by {who} {when}; nothing was created.",
            "expired": f"This request expired {_when(request.expires_at)}; nothing was created.",
        }.get(request.state, "This request is not open any more.")

    # ---- the background pass (bot.reminders.governance runs it) -----------------------------

    async def expire(self, request: Request) -> bool:
        surface = self.surface
        if surface is None or not await self.repo.expire(request.id, now=self.clock()):
            return False
        request = await self.repo.get(request.id) or request
        await self._audit(request.requester, "approval expire", "expired", request)
        await self._refresh(request)
        await surface.tell_requester(request, "expired")
        await self._outcome(request)
        return True

    async def expire_due(self) -> int:
        return sum([await self.expire(r) for r in await self.repo.due_to_expire(self.clock())])

    async def remind_due(self) -> int:
        """Approvers are reminded once, halfway to a request's expiry, if it is still open."""
        surface = self.surface
        if surface is None:
            return 0
        sent = 0
        for request in await self.repo.due_reminders(self.clock()):
            if not await self.repo.claim_reminder(request.id, now=self.clock()):
                continue
            try:
                rule = await self.governance.rule(request.requester, request.kind)  # type: ignore[arg-type]
            except PolicyUnavailable:
                continue
            approvers = await self.governance.approver_ids(rule, requester=request.requester,
                                                           app_user_id=request.app_user_id)
            deciders = await self.governance.approvers_text(rule, app_user_id=request.app_user_id)
            for place in await surface.post(request, approvers=approvers, deciders=deciders, reminder=True):
                await self.repo.add_message(place)
                sent += 1
            await self._audit(request.requester, "approval remind", "ok", request)
        return sent

    async def deliver_pending(self) -> int:
        """Approved requests whose key nobody made (a replica died in between, DataOS failed for now)."""
        surface = self.surface
        if surface is None:
            return 0
        done = 0
        for request in await self.repo.undelivered(self.clock(), self.maker.lease):
            result = await self.maker.deliver(request, surface)
            await self._after_delivery(result)
            done += result is not None
        return done

    async def _after_delivery(self, request: Request | None) -> None:
        if request is None or request.delivery == "working" or request.delivery is None:
            return  # another replica has it, or it will be tried again
        await self._refresh(request)
        await self._outcome(request)

    async def _refresh(self, request: Request) -> None:
        if self.surface is not None:
            await self.surface.refresh(request, await self.repo.messages(request.id))


def _when(moment: datetime) -> str:
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def _delivery_words(request: Request | None) -> str:
    if request is None:
        return "Another replica is making the key."
    return {"failed": "The key could not be made; the requester was told why.",
            "unknown": "The key was made, but Slack's answer to its delivery was lost; the requester was told "
                       "how to see it."}.get(request.delivery or "", "The key will be made as soon as DataOS answers.")
