"""Making and delivering an approved request's key, exactly once.

The delivery is claimed in the request's row before anything is made (a claim older than `lease` is taken
over: its process died). The key is made by the idempotent create (`KeyService.create_key`) under an id
derived from the request, with the name fixed when the request was opened; so a replica that finds the
create already claimed looks the key up by that name instead of making another. Whether the requester
may still have the key (still mapped to that DataOS user, still an owner of that application user) is
checked again first (a team key: through the bot's one owner check, which the surface gives).
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.approvals.surface import Surface
from bot.audit import AuditTrail
from bot.dataos import DataOSError, DataOSNotFound, DataOSUnavailable, Token
from bot.domain.durations import humanize_hours
from bot.identity import Denied, Identity, IdentityResolver
from bot.service import Duplicate, KeyService, StoreUnavailable, same_second
from bot.store import Audit, ScheduledRevocations
from bot.store.approvals import Approvals, Request
from bot.text import escape

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
#: A delivery claimed longer ago than this was abandoned (its process died): another replica takes it.
LEASE = timedelta(minutes=10)


class NotMade(Exception):
    """The key was not made, for good; the message is a sentence for the requester."""


class TryLater(Exception):
    """Nothing was made and it may work later (DataOS or the database unavailable)."""


class KeyMaker:
    def __init__(self, repo: Approvals, keys: KeyService, resolver: IdentityResolver,
                 revocations: ScheduledRevocations, trail: AuditTrail, clock: Clock, *,
                 lease: timedelta = LEASE) -> None:
        self.repo = repo
        self.keys = keys
        self.resolver = resolver
        self.revocations = revocations
        self.trail = trail
        self.clock = clock
        self.lease = lease
        self.worker = f"{socket.gethostname()[:64]}:{uuid.uuid4().hex[:8]}"

    async def deliver(self, request: Request, surface: Surface) -> Request | None:
        """Make and deliver the key of an approved request, unless another replica has it (None). Returns the
        request as it is afterwards (`delivery`: delivered, failed, unknown, or None to try again)."""
        if not await self.repo.claim_delivery(request.id, worker=self.worker, now=self.clock(), lease=self.lease):
            return None
        try:
            identity = await self._still_theirs(request, surface)
            token = await self._make(request, identity)
        except TryLater as exc:
            log.warning("the key of approval request %s was not made yet (%s); the next pass tries again",
                        request.id, exc)
            await self.repo.finish_delivery(request.id, None, now=self.clock())  # type: ignore[arg-type]
            return await self.repo.get(request.id)
        except NotMade as exc:
            await self.repo.finish_delivery(request.id, "failed", now=self.clock())
            await self._audit(request, "failed", str(exc))
            request = await self.repo.get(request.id) or request
            await surface.tell_requester(request, "not made", str(exc))
            return request
        outcome = await surface.deliver(request, token)
        await self.repo.finish_delivery(request.id, outcome, now=self.clock(), key_expiration=token.expiration)
        request = await self.repo.get(request.id) or request
        await self._audit(request, outcome, f"request {request.id}: key {token.name} for <@{request.requester}>",
                          token.expiration)
        if request.kind == "team":
            await surface.tell_team(request, token)
        old = await self._old_key(request, identity) if request.renew_name else None
        await surface.tell_requester(request, "delivered" if outcome == "delivered" else "undelivered", old)
        return request

    async def _still_theirs(self, request: Request, surface: Surface) -> Identity:
        """The requester as the key's owner now; NotMade if they may not have this key any more."""
        if request.kind == "team":  # the bot's one owner check, as every team action (bot.slack.owners)
            refusal = await surface.owner_refusal(request)
            if refusal is not None:
                raise NotMade(f"{refusal.replace('Nothing was changed.', '').strip()} The key was not made.")
            return Identity(request.requester, request.dataos_user_id, "team owner")
        identity = await self.resolver.resolve(request.requester)
        if isinstance(identity, Denied):
            raise NotMade(f"I cannot map you to a DataOS user any more, so the key was not made: {identity.message}")
        if identity.dataos_user_id != request.dataos_user_id:
            raise NotMade(f"You are mapped to DataOS user `{escape(identity.dataos_user_id)}` now, not "
                          f"`{escape(request.dataos_user_id)}`, so the key was not made. Ask again.")
        return identity

    async def _make(self, request: Request, identity: Identity) -> Token:
        rid = f"approval:{request.id}"
        for _ in range(2):
            try:
                result = await self.keys.create_key(identity, name=request.key_name, hours=request.hours,
                                                    request_id=rid)
            except StoreUnavailable as exc:
                raise TryLater("the database did not answer") from exc
            except DataOSError as exc:
                if isinstance(exc, DataOSUnavailable) or exc.status is None or exc.status == 429 or exc.status >= 500:
                    raise TryLater(type(exc).__name__) from exc
                raise NotMade(f"DataOS refused to make it: {type(exc).default_message}") from exc
            if not isinstance(result, Duplicate):
                return result
            # An earlier try claimed this create (a replica that died, or a create whose answer was lost).
            try:
                token = await self.keys.dataos.get_token(request.dataos_user_id, request.key_name)
            except DataOSNotFound:
                if result.previous.state == "done":
                    raise NotMade(f"The key `{escape(request.key_name)}` was made, and is gone from DataOS since. "
                                  "Ask again.") from None
                await self.keys.idempotency.release_idempotency(rid)  # never made: make it now
                continue
            except DataOSError as exc:
                raise TryLater(type(exc).__name__) from exc
            made = result.previous.key_expiration
            if made is not None and not same_second(made, token.expiration):
                raise NotMade(f"A different key is named `{escape(request.key_name)}` now; this request's key was "
                              "revoked since it was made. Ask again.")
            if token.secret is None:
                raise NotMade("DataOS did not return the key's value. `/apikey list` can reveal it.")
            return token
        raise TryLater("the create was claimed and released twice")

    async def _old_key(self, request: Request, identity: Identity) -> str:
        """A renewal's old key, as the requester chose when asking: revoked now, later, or left."""
        name, expiration, choice = request.renew_name or "", request.renew_expiration, request.renew_choice or "keep"
        if choice == "keep" or expiration is None:
            return f"The old key `{escape(name)}` is left to expire."
        owner = request.dataos_user_id
        if choice == "now":
            try:
                done = await self.keys.revoke_exact(owner, name, expiration, actor=identity.slack_user_id,
                                                    detail=f"renewal approved in request {request.id}")
            except DataOSError:
                return f"The old key `{escape(name)}` could not be revoked; revoke it with `/apikey revoke`."
            return {"revoked": f"The old key `{escape(name)}` was revoked.",
                    "gone": f"The old key `{escape(name)}` was already gone.",
                    "changed": f"The old key `{escape(name)}` was left alone: a different key has that name now."
                    }[done.outcome]
        hours = int(choice.split(":", 1)[1]) if choice.startswith("in:") and choice[3:].isdigit() else 0
        revoke_at = self.clock() + timedelta(hours=hours)
        if revoke_at >= expiration:
            return f"The old key `{escape(name)}` is left to expire: it expires before then."
        await self.revocations.schedule_revocation(owner, name, key_expiration=expiration, revoke_at=revoke_at,
                                                   requested_by=identity.slack_user_id, now=self.clock())
        return f"The old key `{escape(name)}` will be revoked in {humanize_hours(hours)}."

    async def _audit(self, request: Request, outcome: str, detail: str, expiration: datetime | None = None) -> None:
        await self.trail.record(Audit(at=self.clock(), actor_slack_id=request.decided_by or request.requester,
                                      action="approval deliver", outcome=outcome[:32],
                                      dataos_user_id=request.dataos_user_id[:255], key_name=request.key_name,
                                      key_expiration=expiration, detail=detail[:500]))
