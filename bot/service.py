"""What the bot does for a person, independent of Slack: list, create, revoke, reveal, link.

Every operation takes the caller's resolved `Identity`: the DataOS user is never taken from the
request, so whatever a payload says, a person only ever touches their own keys. Each create, revoke,
reveal and link is audited (never with the secret).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretStr

from bot.audit import AuditTrail
from bot.dataos import DataOSError, DataOSNotFound, HeimdallClient, Token
from bot.domain.names import generate_key_name
from bot.identity import Denied, Identity, IdentityResolver
from bot.store import Audit, Idempotency, Store

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Duplicate:
    """A second submit of the same create: what the first one did (pending, done, failed, unknown)."""

    previous: Idempotency


class StoreUnavailable(Exception):
    """The bot's own database did not answer; nothing was done."""

    def __init__(self) -> None:
        super().__init__("The bot's database is not answering right now. Nothing was changed. "
                         "Please try again in a minute.")


class LinkRefused(Exception):
    """`/apikey link` could not link; the message is fit for the user."""


def _outcome(exc: DataOSError) -> str:
    return f"error:{exc.status}" if exc.status else f"error:{type(exc).__name__}"


class KeyService:
    def __init__(self, dataos: HeimdallClient, store: Store, resolver: IdentityResolver, clock: Clock,
                 trail: AuditTrail) -> None:
        self.dataos = dataos
        self.store = store
        self.resolver = resolver
        self.clock = clock
        self.trail = trail

    async def identify(self, slack_user_id: str) -> Identity | Denied:
        return await self.resolver.resolve(slack_user_id)

    async def _audit(self, identity: Identity, action: str, outcome: str, *, key_name: str | None = None,
                     expiration: datetime | None = None, detail: str | None = None) -> None:
        await self.trail.record(Audit(
            at=self.clock(), actor_slack_id=identity.slack_user_id, dataos_user_id=identity.dataos_user_id,
            action=action, outcome=outcome, key_name=key_name, key_expiration=expiration, detail=detail,
        ))

    async def list_keys(self, identity: Identity) -> list[Token]:
        tokens = await self.dataos.list_tokens(identity.dataos_user_id)
        return sorted(tokens, key=lambda t: (t.expiration, t.name))

    async def get_key(self, identity: Identity, name: str) -> Token:
        return await self.dataos.get_token(identity.dataos_user_id, name)

    async def create_key(
        self, identity: Identity, *, name: str | None, hours: int, request_id: str
    ) -> Token | Duplicate:
        """Create once per `request_id` (e.g. one modal submission): a double submit gets `Duplicate`."""
        now = self.clock()
        try:
            claimed = await self.store.claim_idempotency(request_id, identity.dataos_user_id, now)
        except Exception as exc:
            log.warning("could not claim %s: %s", request_id, type(exc).__name__)
            raise StoreUnavailable from None
        if not claimed:
            previous = await self.store.get_idempotency(request_id)
            assert previous is not None
            return Duplicate(previous)
        key_name = name or generate_key_name()
        try:
            token = await self.dataos.create_token(
                identity.dataos_user_id, name=key_name, hours=hours,
                description=f"created from Slack by {identity.slack_user_id}",
            )
        except DataOSError as exc:
            if exc.changed is False:
                await self.store.release_idempotency(request_id)  # nothing happened: a retry is fine
            else:
                await self.store.finish_idempotency(request_id, state="unknown", now=self.clock(),
                                                    key_name=key_name)
            await self._audit(identity, "create", _outcome(exc), key_name=key_name,
                              detail=f"correlation {exc.correlation_id}")
            raise
        # The key exists now: what follows is bookkeeping, and must not keep the key from its owner.
        entry = Audit(at=self.clock(), actor_slack_id=identity.slack_user_id, dataos_user_id=identity.dataos_user_id,
                      action="create", outcome="ok", key_name=token.name, key_expiration=token.expiration)
        try:
            await self.store.record_created(request_id, entry, now=now)
        except Exception:
            log.exception("could not record the creation of %s", token.name)
        await self.trail.announce(entry)
        return token

    async def revoke_key(self, identity: Identity, name: str) -> Token:
        try:
            token = await self.dataos.get_token(identity.dataos_user_id, name)
            await self.dataos.delete_token(identity.dataos_user_id, name)
        except DataOSError as exc:
            await self._audit(identity, "revoke", _outcome(exc), key_name=name)
            raise
        await self._audit(identity, "revoke", "ok", key_name=name, expiration=token.expiration)
        return token

    async def reveal_key(self, identity: Identity, name: str) -> Token:
        try:
            token = await self.dataos.get_token(identity.dataos_user_id, name)
        except DataOSError as exc:
            await self._audit(identity, "reveal", _outcome(exc), key_name=name)
            raise
        if token.secret is None:
            await self._audit(identity, "reveal", "error:no-value", key_name=name)
            raise DataOSNotFound("DataOS did not return the value of this key.", status=None)
        await self._audit(identity, "reveal", "ok", key_name=name, expiration=token.expiration)
        return token

    async def link(self, slack_user_id: str, pasted_key: SecretStr) -> str:
        """Link the caller to the DataOS user who owns `pasted_key`; the key is checked, never kept."""
        result = await self.dataos.authorize(pasted_key)
        user_id = result.user_id
        if user_id is None:
            await self.trail.record(Audit(at=self.clock(), actor_slack_id=slack_user_id, action="link",
                                         outcome="refused:invalid-key"))
            raise LinkRefused("DataOS did not accept that key (it is wrong, revoked or expired). "
                              "Nothing was linked. Paste a current key of yours and try again.")
        user = await self.resolver.directory.get(user_id)
        if user is not None and not user.is_person:
            await self.trail.record(Audit(at=self.clock(), actor_slack_id=slack_user_id, action="link",
                                         dataos_user_id=user_id, outcome="refused:application"))
            raise LinkRefused(f"That key belongs to the application user `{user_id}`, not to a person. "
                              "Nothing was linked. Paste a key of your own DataOS user.")
        await self.store.set_link(slack_user_id, user_id, method="self", linked_by=slack_user_id, now=self.clock())
        self.resolver.forget(slack_user_id)
        await self.trail.record(Audit(at=self.clock(), actor_slack_id=slack_user_id, action="link",
                                     dataos_user_id=user_id, outcome="ok"))
        return user_id
