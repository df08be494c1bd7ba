"""What the bot does for a person, independent of Slack: list, create, revoke, reveal, link. Every operation
takes the caller's resolved `Identity`: the DataOS user is never taken from the request, so whatever a payload
says, a person only ever touches their own keys. Each create, revoke, reveal and link is audited (never with
the secret)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import SecretStr

from bot.audit import AuditTrail
from bot.dataos import DataOSError, DataOSNotFound, HeimdallClient, Token, User
from bot.domain.keys import created_by_description, is_ref, key_digest
from bot.domain.names import generate_key_name
from bot.identity import Denied, Identity, IdentityResolver, Mapped
from bot.self_links import SelfLinks
from bot.store import Audit, Idempotency, IdempotencyClaims, KeySightings, Link, Links, Proof
from bot.text import escape

log = logging.getLogger(__name__)
#: A person's listings update the reminder record at most this often.
RECORD_EVERY = timedelta(minutes=1)
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
    """A link was refused; the message is a sentence fit for mrkdwn (anything from outside escaped)."""

    def __init__(self, message: str, reason: str = "invalid-key") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class LinkResult:
    dataos_user_id: str
    slack_user_id: str
    actor: str
    #: Slack users who were acting as that DataOS user until now (they are told).
    others: tuple[Mapped, ...] = ()
    #: The link as stored (a self-link with the key that proved it), to be named exactly later.
    link: Link | None = None


@dataclass(frozen=True)
class Revoked:
    """What `revoke_exact` did: revoked it, found it gone, or found a different key under that name
    (`changed`; `expiration` is then the other key's). `name` is the real name, never a digest."""

    outcome: Literal["revoked", "gone", "changed"]
    name: str
    expiration: datetime | None


def same_second(a: datetime, b: datetime) -> bool:
    return int(a.timestamp()) == int(b.timestamp())


def _outcome(exc: DataOSError) -> str:
    return f"error:{exc.status}" if exc.status else f"error:{type(exc).__name__}"


class KeyService:
    def __init__(self, dataos: HeimdallClient, resolver: IdentityResolver, clock: Clock, trail: AuditTrail, *,
                 links: Links, idempotency: IdempotencyClaims, sightings: KeySightings, self_links: SelfLinks,
                 operator_key: SecretStr | None = None) -> None:
        self._operator_key = operator_key
        self.self_links = self_links
        self._operator_user: str | None = None
        self._recorded: dict[str, datetime] = {}  # when each person's listing last updated the record
        self.dataos = dataos
        self.links = links
        self.idempotency = idempotency
        self.sightings = sightings
        self.resolver = resolver
        self.clock = clock
        self.trail = trail
        # What was minted through a self-link is revoked with it, through the one revoke; its owner is told.
        self_links.revoke = self._revoke_minted
        self_links.people_of = self._people_of

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
        await self._remember_listing(identity.dataos_user_id, tokens)
        return sorted(tokens, key=lambda t: (t.expiration, t.name))

    async def _remember_listing(self, dataos_user_id: str, tokens: list[Token]) -> None:
        """The reminder record follows what DataOS just answered (no extra call), at most once a minute
        per person: a burst of lists is one write."""
        now = self.clock()
        last = self._recorded.get(dataos_user_id)
        if last is not None and now - last < RECORD_EVERY:
            return
        self._recorded[dataos_user_id] = now
        try:
            await self.sightings.record_listing(dataos_user_id, [(t.name, t.expiration) for t in tokens], now)
        except Exception as exc:  # bookkeeping: the person still gets their list
            self._recorded.pop(dataos_user_id, None)
            log.warning("could not update the key record of %s: %s", dataos_user_id, type(exc).__name__)

    async def _bookkeeping(self, what: str, write: Awaitable[None]) -> None:
        try:
            await write
        except Exception as exc:
            log.warning("could not update the key record (%s): %s", what, type(exc).__name__)

    async def resolve(self, dataos_user_id: str, name: str) -> str:
        """The key name a button or form carried (`key_ref`): names too long for Slack come as a digest."""
        if not is_ref(name):
            return name
        for token in await self.dataos.list_tokens(dataos_user_id):
            if key_digest(token.name) == name:
                return token.name
        raise DataOSNotFound("DataOS has no such key any more.", status=404)

    async def get_key(self, identity: Identity, name: str) -> Token:
        return await self.dataos.get_token(identity.dataos_user_id, await self.resolve(identity.dataos_user_id, name))

    async def create_key(
        self, identity: Identity, *, name: str | None, hours: int, request_id: str, how: str = "created"
    ) -> Token | Duplicate:
        """Create once per `request_id` (e.g. one modal submission): a double submit gets `Duplicate`. A key
        made through a self-link is recorded with it (`how`: created or renewed), to die with it."""
        now = self.clock()
        key_name = name or generate_key_name()
        try:
            claimed = await self.idempotency.claim_idempotency(request_id, identity.dataos_user_id, now,
                                                               key_name=key_name)
        except Exception as exc:
            log.warning("could not claim %s: %s", request_id, type(exc).__name__)
            raise StoreUnavailable from None
        if not claimed:
            previous = await self.idempotency.get_idempotency(request_id)
            assert previous is not None
            return Duplicate(previous)
        try:
            token = await self.dataos.create_token(
                identity.dataos_user_id, name=key_name, hours=hours,
                description=created_by_description(identity.slack_user_id),
            )
        except DataOSError as exc:
            if exc.changed is False:
                await self.idempotency.release_idempotency(request_id)  # nothing happened: a retry is fine
            else:
                await self.idempotency.finish_idempotency(request_id, state="unknown", now=self.clock(),
                                                    key_name=key_name)
            await self._audit(identity, "create", _outcome(exc), key_name=key_name,
                              detail=f"correlation {exc.correlation_id}")
            raise
        # The key exists now: what follows is bookkeeping, and must not keep the key from its owner.
        entry = Audit(at=self.clock(), actor_slack_id=identity.slack_user_id, dataos_user_id=identity.dataos_user_id,
                      action="create", outcome="ok", key_name=token.name, key_expiration=token.expiration)
        try:
            await self.idempotency.record_created(request_id, entry, now=now)
        except Exception:
            log.exception("could not record the creation of %s", token.name)
        if identity.proof is not None:
            try:
                await self.self_links.record_minted(identity.slack_user_id, identity.dataos_user_id, identity.proof,
                                                    token.name, token.expiration, how)
            except Exception:  # the key exists and goes to its person; the sweep cannot revoke what is not recorded
                log.exception("could not record that %s was made through a self-link", token.name)
        await self.trail.announce(entry)
        return token

    async def delete_token(self, dataos_user_id: str, name: str, *, actor: str) -> None:
        """The one way the bot deletes a key: the self-links that key proved end with it (also when DataOS
        says it was already gone)."""
        try:
            await self.dataos.delete_token(dataos_user_id, name)
        except DataOSNotFound:
            await self._key_gone(dataos_user_id, name, actor)
            raise
        await self._key_gone(dataos_user_id, name, actor)

    async def _key_gone(self, dataos_user_id: str, name: str, actor: str) -> None:
        try:
            await self.self_links.key_gone(dataos_user_id, name, actor=actor)
        except Exception:  # the key is gone; a link it proved then fails its next check instead
            log.exception("could not end the self-links proven by a revoked key of %s", dataos_user_id)

    async def revoke_exact(self, dataos_user_id: str, name: str, expiration: datetime | None, *, actor: str,
                           detail: str, action: str = "revoke") -> Revoked:
        """Revoke the key `name` only if it is still the one that expires at `expiration` (to the second,
        which is what buttons and forms carry): a key revoked meanwhile and made again under the same
        name is another key, and is left alone. The one way anything in the bot revokes a key; every
        outcome is audited (as `action`), and a DataOS error is audited and raised."""

        async def audit(outcome: str, key_name: str, key_expiration: datetime | None) -> None:
            await self.trail.record(Audit(at=self.clock(), actor_slack_id=actor, action=action, outcome=outcome,
                                          dataos_user_id=dataos_user_id, key_name=key_name,
                                          key_expiration=key_expiration, detail=detail))

        try:
            name = await self.resolve(dataos_user_id, name)
            token = await self.dataos.get_token(dataos_user_id, name)
        except DataOSNotFound:
            if not is_ref(name):
                await self._key_gone(dataos_user_id, name, actor)
            await audit("skipped: already gone", name, expiration)
            return Revoked("gone", name, None)
        except DataOSError as exc:
            await audit(_outcome(exc), name, expiration)
            raise
        if expiration is None or not same_second(token.expiration, expiration):
            await audit("skipped: key changed", name, token.expiration)
            return Revoked("changed", name, token.expiration)
        try:
            await self.delete_token(dataos_user_id, name, actor=actor)
        except DataOSNotFound:
            await audit("skipped: already gone", name, expiration)
            return Revoked("gone", name, None)
        except DataOSError as exc:
            await audit(_outcome(exc), name, token.expiration)
            raise
        await audit("ok", name, token.expiration)
        await self._bookkeeping("revoke", self.sightings.forget_sighting((dataos_user_id, name, token.expiration)))
        return Revoked("revoked", name, token.expiration)

    async def reveal_key(self, identity: Identity, name: str) -> Token:
        try:
            name = await self.resolve(identity.dataos_user_id, name)
            token = await self.dataos.get_token(identity.dataos_user_id, name)
        except DataOSError as exc:
            await self._audit(identity, "reveal", _outcome(exc), key_name=name)
            raise
        if token.secret is None:
            await self._audit(identity, "reveal", "error:no-value", key_name=name)
            raise DataOSNotFound("DataOS did not return the value of this key.", status=None)
        if identity.proof is not None:  # seen through a self-link: it dies with the link, so it is recorded first
            try:
                await self.self_links.record_minted(identity.slack_user_id, identity.dataos_user_id, identity.proof,
                                                    token.name, token.expiration, "revealed")
            except Exception as exc:
                log.warning("could not record a reveal through a self-link: %s", type(exc).__name__)
                await self._audit(identity, "reveal", "error:store", key_name=name)
                raise StoreUnavailable from None
        await self._audit(identity, "reveal", "ok", key_name=name, expiration=token.expiration)
        await self._bookkeeping("reveal", self.sightings.record_key(identity.dataos_user_id, name, token.expiration,
                                                                self.clock()))
        return token

    def use_operator_key(self, key: SecretStr) -> None:
        """The operator key was rotated: the same DataOS user, a new key."""
        self._operator_key = key

    async def _revoke_minted(self, dataos_user_id: str, name: str, expiration: datetime, actor: str,
                             detail: str) -> str:
        return (await self.revoke_exact(dataos_user_id, name, expiration, actor=actor, detail=detail)).outcome

    async def _people_of(self, dataos_user_id: str, exclude: str) -> list[str]:
        """Who to tell about a DataOS user's keys: the Slack people acting as it (other than `exclude`), else the
        admins."""
        try:
            user = await self.resolver.directory.get(dataos_user_id) or await self.dataos.get_user(dataos_user_id)
            people = [slack_id for slack_id, _ in await self.resolver.others_mapped(user, exclude=exclude)]
        except Exception as exc:
            log.warning("could not find who acts as %s: %s", dataos_user_id, type(exc).__name__)
            people = []
        return people or [a for a in self.resolver.admins if a != exclude]

    async def operator_user_id(self) -> str | None:
        """The bot's own DataOS user (who owns DATAOS_APIKEY); None while DataOS cannot say."""
        if self._operator_user is None and self._operator_key is not None:
            try:
                self._operator_user = (await self.dataos.authorize(self._operator_key)).user_id
            except DataOSError as exc:
                log.warning("could not tell which DataOS user the bot is: %s", exc)
        return self._operator_user

    async def linkable(self, dataos_user_id: str) -> User:
        """The rule for every link, self or admin: an existing DataOS person, never the bot's own user.

        The directory may not know a user yet (it is refreshed in the background): then DataOS is asked,
        so an unknown user is never taken for a person.
        """
        shown = escape(dataos_user_id[:80])
        if dataos_user_id == await self.operator_user_id():
            raise LinkRefused(f"`{shown}` is the bot's own DataOS user: linking a person to it would hand them "
                              "the bot's operator key. Nothing was linked.", "operator")
        user = await self.resolver.directory.get(dataos_user_id)
        if user is None:
            try:
                user = await self.dataos.get_user(dataos_user_id)
            except DataOSNotFound:
                raise LinkRefused(f"DataOS has no user `{shown}`. Nothing was linked.", "unknown-user") from None
        if not user.is_person:
            raise LinkRefused(f"`{shown}` is an application user, not a person: people are only ever linked to "
                              "their own DataOS user. Nothing was linked.", "application")
        return user

    async def _refuse(self, actor: str, action: str, reason: str, *, dataos_user_id: str | None = None,
                      detail: str | None = None, key_name: str | None = None) -> None:
        await self.trail.record(Audit(at=self.clock(), actor_slack_id=actor, action=action, key_name=key_name,
                                      dataos_user_id=dataos_user_id and dataos_user_id[:255],
                                      outcome=f"refused:{reason}"[:32], detail=detail))

    async def _admit(self, actor: str, target: str, action: str) -> None:
        """Guests (unless ALLOW_GUESTS) and people from other organisations are never linked."""
        denied = await self.resolver.admission(target)
        if denied is not None:
            await self._refuse(actor, action, denied.reason, detail=f"slack user {target}")
            if actor == target:
                message = denied.message.replace("Nothing was done.", "Nothing was linked.")
            else:
                what = {"other_org": "is from another organisation (Slack Connect), and is never linked",
                        "guest": "is a guest account, and guests are not admitted here (ALLOW_GUESTS)",
                        "deactivated": "is deactivated", "bot": "is a bot or app",
                        }.get(denied.reason, "could not be looked up in Slack just now")
                message = f"<@{target}> {what}. Nothing was linked."
            raise LinkRefused(message, denied.reason)

    async def link(self, slack_user_id: str, pasted_key: SecretStr) -> LinkResult:
        """Link the caller to the DataOS user who owns `pasted_key`; the key is checked, never kept. The
        link is derived from that key and ends with it (`bot.self_links`)."""
        await self._admit(slack_user_id, slack_user_id, "link")
        result = await self.dataos.authorize(pasted_key)
        user_id = result.user_id
        if user_id is None:
            await self._refuse(slack_user_id, "link", "invalid-key")
            raise LinkRefused("DataOS did not accept that key (it is wrong, revoked or expired). "
                              "Nothing was linked. Paste a current key of yours and try again.")
        try:
            user = await self.linkable(user_id)
        except LinkRefused as exc:
            await self._refuse(slack_user_id, "link", exc.reason, dataos_user_id=user_id)
            raise
        fingerprint = await self.self_links.fingerprint(pasted_key)
        if fingerprint is not None and await self.self_links.leaked(fingerprint):
            await self._refuse(slack_user_id, "link", "leaked-key", dataos_user_id=user_id)
            raise LinkRefused("That key was posted in a channel where others could read it, so it cannot prove "
                              "who you are. Nothing was linked. Revoke it, then link with another key of yours.",
                              "leaked-key")
        proof = await self.self_links.prove(user_id, pasted_key)
        if proof is None:
            await self._refuse(slack_user_id, "link", "unknown-key", dataos_user_id=user_id)
            raise LinkRefused("DataOS accepted that key, but the bot could not tell which of your keys it is, so "
                              "the link could not be tied to it. Nothing was linked. Try another current key of "
                              "yours, or ask a platform admin to link you.", "unknown-key")
        if await self.self_links.was_minted(user_id, proof):
            await self._refuse(slack_user_id, "link", "minted-key", dataos_user_id=user_id, key_name=proof.key_name)
            raise LinkRefused("That key was made (or shown) through a self-link, so it proves only that someone held "
                              "that link, not who you are. Nothing was linked. Link with a key you made in DataOS, or "
                              "ask a platform admin to link you.", "minted-key")
        return await self._link(slack_user_id, user, method="self", actor=slack_user_id, proof=proof)

    async def admin_link(self, actor: str, target: str, dataos_user_id: str) -> LinkResult:
        await self._admit(actor, target, "admin link")
        try:
            user = await self.linkable(dataos_user_id)
        except LinkRefused as exc:
            await self._refuse(actor, "admin link", exc.reason, dataos_user_id=dataos_user_id,
                               detail=f"slack user {target}")
            raise
        return await self._link(target, user, method="admin", actor=actor)

    async def _link(self, target: str, user: User, *, method: str, actor: str,
                    proof: Proof | None = None) -> LinkResult:
        displaced = await self.resolver.others_mapped(user, exclude=target)
        now = self.clock()
        await self.links.set_link(target, user.id, method=method, linked_by=actor, now=now, proof=proof)
        self.resolver.forget(target)
        await self.trail.record(Audit(at=self.clock(), actor_slack_id=actor, dataos_user_id=user.id, outcome="ok",
                                     action="link" if method == "self" else "admin link",
                                     key_name=proof.key_name if proof else None,
                                     key_expiration=proof.expiration if proof else None,
                                     detail=None if method == "self" else f"slack user {target}"))
        link = await self.links.get_link(target)
        return LinkResult(user.id, target, actor, tuple(displaced), link=link)
