"""A self-link is a credential derived from the key that proved it, and dies with it.

`/apikey link` proves a DataOS identity with a key; the link it makes is worth exactly as much as that
key. So the link keeps what identifies the key (a keyed hash, its name and expiry; never the key) and
ends when the key does:

- revoked through the bot (any path that deletes a key goes through `KeyService.delete_token`, which
  calls `key_gone`);
- found gone or changed in DataOS: checked when the linked person acts, at most `CHECK_EVERY` apart,
  and by every reminder sweep before reminders go to linked people;
- expired (no DataOS call needed);
- reported by the leak watch (`key_leaked`, by the same keyed hash);
- disowned by the person it took the DataOS user from ("This was not me").

Each end is audited with its reason, and the person who was linked is told in a sentence (a DM, or the
answer to what they were doing) and may link again with a live key. Admin links are not affected.

What is minted through a self-link is derived from the same key: every key created, renewed or revealed
by someone acting through one is recorded with the proving key (`bot.store.minted`). When that key is
revoked, found gone or changed, seen leaked, or the link is disowned, those keys are revoked (exactly:
name and expiry) and the owner is told which; when it expires, they are kept. This holds after the
link was replaced or removed meanwhile: the record follows the proving key, not the link row. None of
them can prove a self-link, ever.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr

from bot.audit import AuditTrail
from bot.dataos import DataOSError, DataOSNotFound, HeimdallClient, Token
from bot.domain.leaks import fingerprint, key_name_of
from bot.store import Audit, Link, Links, Proof
from bot.store.minted import Minted, MintedKeys
from bot.text import shown

log = logging.getLogger(__name__)
#: While a self-link is used, DataOS is asked at least this often whether its proving key still exists.
CHECK_EVERY = timedelta(minutes=5)
#: The sweep's checks of self-links in flight at once.
SWEEP_CHECKS_IN_FLIGHT = 8
Clock = Callable[[], datetime]
#: Sends a Slack user a DM; True if Slack took it.
Tell = Callable[[str, str], Awaitable[bool]]
#: The keyed hash's key (kept in the database: `bot.store.hash_keys`).
Secret = Callable[[], Awaitable[bytes]]
#: Revokes exactly one key (owner, name, expiry, actor, audit detail): revoked | gone | changed.
Revoke = Callable[[str, str, datetime, str, str], Awaitable[str]]
#: The Slack people to tell about a DataOS user's keys, other than the one given.
PeopleOf = Callable[[str, str], Awaitable[list[str]]]
#: Ends after which what was minted through the link is revoked; any other end keeps it.
DIES = frozenset({"key revoked", "key gone", "key changed", "key leaked", "not me"})
_OWNER_WHY = {
    "key revoked": "the key it was made with (*{key}*) was revoked",
    "key gone": "the key it was made with (*{key}*) no longer exists in DataOS",
    "key changed": "the key it was made with (*{key}*) was revoked in DataOS",
    "key leaked": "the key it was made with (*{key}*) was posted in a channel where others could read it",
    "not me": "you said it was not theirs to take",
}
_FATE = {"revoked": "revoked", "gone": "already gone", "changed": "left alone: another key has that name now",
         "failed": "*not* revoked yet: DataOS did not answer (the bot tries again; or revoke it yourself)"}

RELINK = "To link again, run `/apikey link` and paste a current key of yours."
_WHY = {
    "key revoked": "the key that proved it ({key}) was revoked",
    "key gone": "the key that proved it ({key}) no longer exists in DataOS",
    "key changed": "the key that proved it ({key}) was revoked in DataOS (another key now has its name)",
    "key expired": "the key that proved it ({key}) has expired",
    "key leaked": "the key that proved it ({key}) was posted in a channel where others could read it, so it no "
                  "longer proves who you are",
    "not me": "the person who was using that DataOS user said the link was not theirs to take; the key that made "
              "it ({key}) is being revoked",
    "no proof": "it was made before the bot kept track of the key that proved it",
}


@dataclass(frozen=True)
class Ended:
    link: Link
    reason: str

    @property
    def message(self) -> str:
        """The sentence for the person who was linked (mrkdwn; anything from outside escaped)."""
        proof = self.link.proof
        key = f"*{shown(proof.key_name, 80)}*" if proof else "unknown"
        why = _WHY.get(self.reason, "its proving key is no longer valid").format(key=key)
        return (f":link: Your link to DataOS user `{shown(self.link.dataos_user_id)}` has ended: {why}. {RELINK}")


class SelfLinks:
    def __init__(self, links: Links, dataos: HeimdallClient, trail: AuditTrail, clock: Clock, secret: Secret,
                 tell: Tell | None = None, minted: MintedKeys | None = None) -> None:
        self.links = links
        self.dataos = dataos
        self.trail = trail
        self.clock = clock
        self._secret = secret
        self.tell = tell
        self.minted = minted if minted is not None else MintedKeys(links.engine)
        #: Set by `KeyService` (which revokes through `revoke_exact`, and knows who acts as whom).
        self.revoke: Revoke | None = None
        self.people_of: PeopleOf | None = None
        #: Called with the Slack user after their link ended (the Slack side redraws their Home tab, which
        #: would otherwise go on showing the other person's keys).
        self.after_end: Callable[[str], Awaitable[None]] | None = None

    async def fingerprint(self, key: SecretStr | str) -> str | None:
        """The keyed hash the leak watch also keeps for a pasted key (None for a value no key can be)."""
        value = key.get_secret_value() if isinstance(key, SecretStr) else key
        return fingerprint(value, await self._secret()) if value and value.isascii() else None

    async def prove(self, dataos_user_id: str, key: SecretStr) -> Proof | None:
        """Which of `dataos_user_id`'s live keys `key` is (by value, else by the name inside it)."""
        fp = await self.fingerprint(key)
        if fp is None:
            return None
        value = key.get_secret_value()
        tokens = await self.dataos.list_tokens(dataos_user_id)
        token = next((t for t in tokens if t.secret is not None
                      and hmac.compare_digest(t.secret.get_secret_value().encode(), value.encode())), None)
        if token is None:
            try:
                name = key_name_of(value)
            except (ValueError, UnicodeDecodeError):
                return None
            token = next((t for t in tokens if t.name == name), None)
        if token is None or token.expiration <= self.clock():
            return None
        if token.secret is not None and not await _same_key(token, fp, self):
            return None  # a key of that name, but not the one pasted
        return Proof(fp, token.name, token.expiration)

    async def leaked(self, fp: str) -> bool:
        return await self.links.key_reported_leaked(fp)

    async def check(self, link: Link, *, tell: bool = False) -> Ended | None:
        """Is this self-link's proving key still alive? Ends the link (and says why) if not. Raises
        DataOSError when DataOS cannot say: the caller refuses the request and keeps the link. `tell`
        sends the sentence as a DM (when the person is not in the middle of something)."""
        now = self.clock()
        proof = link.proof
        actor = link.slack_user_id
        if proof is None:
            return await self.end(link, "no proof", actor=actor, tell=tell)
        if proof.expiration <= now:
            return await self.end(link, "key expired", actor=actor, tell=tell)
        if link.proof_checked_at is not None and now - link.proof_checked_at < CHECK_EVERY:
            return None
        try:
            token = await self.dataos.get_token(link.dataos_user_id, proof.key_name)
        except DataOSNotFound:
            return await self.end(link, "key gone", actor=actor, tell=tell)
        if token.expiration != proof.expiration or (token.secret is not None
                                                     and not await _same_key(token, proof.fingerprint, self)):
            return await self.end(link, "key changed", actor=actor, tell=tell)
        await self.links.proof_confirmed(link, now)
        return None

    async def check_all(self) -> list[Ended]:
        """Every self-link, checked as if it were used now (the sweep, before reminders go to linked
        people: a reminder is a use). A link DataOS cannot answer for is kept and checked next time."""
        ended: list[Ended] = []
        gate = asyncio.Semaphore(SWEEP_CHECKS_IN_FLIGHT)

        async def one(link: Link) -> None:
            async with gate:
                try:
                    done = await self.check(link, tell=True)
                except DataOSError as exc:
                    log.warning("could not check the key of the self-link of %s: %s", link.slack_user_id, exc)
                    return
            if done is not None:
                ended.append(done)

        links = [link for link in await self.links.links() if link.method == "self"]
        await asyncio.gather(*(one(link) for link in links))
        await self._check_orphans({link.proof_fingerprint for link in links})
        return ended

    async def key_gone(self, dataos_user_id: str, key_name: str, *, actor: str) -> list[Ended]:
        """A key was deleted (or found missing) through the bot: the self-links it proved end now."""
        links = await self.links.end_links_proven_by(dataos_user_id=dataos_user_id, key_name=key_name)
        ended = [await self._ended(link, "key revoked", actor=actor, tell=True) for link in links]
        # Keys minted through a link that was replaced or removed since: still derived from this key.
        await self._minted_die("key revoked", actor, dataos_user_id=dataos_user_id, proof_key_name=key_name)
        return ended

    async def key_leaked(self, fp: str, *, actor: str) -> list[Ended]:
        """The leak watch saw this key pasted where others can read it. Never raises: the owner must
        still hear of the leak (a link it misses here fails its next check once the key is revoked)."""
        try:
            links = await self.links.end_links_proven_by(fingerprint=fp)
        except Exception as exc:
            log.warning("could not end the self-links made with a leaked key: %s", type(exc).__name__)
            return []
        ended = [await self._ended(link, "key leaked", actor=actor, tell=True) for link in links]
        try:
            await self._minted_die("key leaked", actor, fingerprint=fp)
        except Exception as exc:  # the sweep tries again (`_check_orphans`): the key is on record as leaked
            log.warning("could not revoke the keys made through a leaked key's links: %s", type(exc).__name__)
        return ended

    async def end(self, link: Link, reason: str, *, actor: str, tell: bool) -> Ended | None:
        """End `link` if it is still that link; None if it had ended or changed meanwhile."""
        if not await self.links.end_link(link):
            return None
        return await self._ended(link, reason, actor=actor, tell=tell)

    async def _ended(self, link: Link, reason: str, *, actor: str, tell: bool) -> Ended:
        ended = Ended(link, reason)
        told = ""
        if tell and self.tell is not None:
            told = "; told" if await self.tell(link.slack_user_id, ended.message) else "; not told"
        log.info("self-link of %s to %s ended: %s", link.slack_user_id, link.dataos_user_id, reason)
        await self.trail.record(Audit(
            at=self.clock(), actor_slack_id=actor, action="link end", outcome=f"ended: {reason}",
            dataos_user_id=link.dataos_user_id, key_name=link.proof_key_name, key_expiration=link.proof_expiration,
            detail=f"slack user {link.slack_user_id}{told}"))
        proof = link.proof
        if proof is not None and reason in DIES:
            await self._minted_die(reason, actor, linked=link.slack_user_id, fingerprint=proof.fingerprint)
        elif proof is not None:
            await self.minted.keep(proof.fingerprint, now=self.clock())
        if self.after_end is not None:
            try:
                await self.after_end(link.slack_user_id)
            except Exception as exc:
                log.warning("after the self-link of %s ended: %s", link.slack_user_id, type(exc).__name__)
        return ended

    # ---- what was minted through a link ----------------------------------------------------------

    async def record_minted(self, slack_user_id: str, dataos_user_id: str, proof: Proof, key_name: str,
                            expiration: datetime, how: str) -> None:
        """A key created, renewed or revealed by `slack_user_id` through the self-link `proof` made."""
        await self.minted.record(dataos_user_id, key_name, expiration, proof, slack_user_id=slack_user_id, how=how,
                                 now=self.clock())

    async def was_minted(self, dataos_user_id: str, proof: Proof) -> bool:
        """Was the key that would prove a link itself minted through a self-link? Then it proves nothing."""
        return await self.minted.is_minted(dataos_user_id, proof.key_name, proof.expiration)

    async def _minted_die(self, reason: str, actor: str, *, linked: str | None = None, fingerprint: str | None = None,
                          dataos_user_id: str | None = None, proof_key_name: str | None = None) -> None:
        """Revoke the live keys minted through one proving key (each claimed by one replica), and tell the owner
        which. A key DataOS could not revoke just now stays on record and is tried again by the sweep."""
        if self.revoke is None:
            return
        claimed = await self.minted.claim(now=self.clock(), fingerprint=fingerprint, dataos_user_id=dataos_user_id,
                                          proof_key_name=proof_key_name)
        fates: list[tuple[Minted, str]] = []
        for key in claimed:
            try:
                fate = await self.revoke(key.dataos_user_id, key.key_name, key.key_expiration, actor,
                                         f"made through the self-link of {key.slack_user_id}, which ended: {reason}")
            except DataOSError as exc:
                log.warning("could not revoke a key made through an ended self-link: %s", exc)
                fate = "failed"
            await self.minted.finish(key, "live" if fate == "failed" else fate, now=self.clock())
            fates.append((key, fate))
        for owner in sorted({key.dataos_user_id for key, _ in fates}):
            await self._tell_owner(owner, [(k, f) for k, f in fates if k.dataos_user_id == owner], reason, linked)

    async def _tell_owner(self, owner: str, fates: Sequence[tuple[Minted, str]], reason: str,
                          linked: str | None) -> None:
        who = linked or fates[0][0].slack_user_id
        key = shown(fates[0][0].proof.key_name, 80)
        why = _OWNER_WHY.get(reason, "its proving key is no longer valid").format(key=key)
        lines = "\n".join(f"• *{shown(k.key_name, 80)}* ({k.how} through the link): {_FATE.get(f, f)}"
                          for k, f in fates[:20])
        more = f"\n… and {len(fates) - 20} more (the audit log lists them)." if len(fates) > 20 else ""
        text = (f":rotating_light: The self-link of <@{shown(who, 32)}> to DataOS user `{shown(owner)}` has ended: "
                f"{why}. Keys made or seen through that link die with it:\n{lines}{more}")
        people = await self.people_of(owner, who) if self.people_of is not None else []
        told = [p for p in people if self.tell is not None and await self.tell(p, text)]
        await self.trail.record(Audit(at=self.clock(), actor_slack_id=who, action="link minted", dataos_user_id=owner,
                                      outcome=f"revoked {sum(f == 'revoked' for _, f in fates)} of {len(fates)}",
                                      detail=f"told {' '.join(told) or 'nobody'}"[:500]))

    async def _check_orphans(self, linked: set[str | None]) -> None:
        """Keys minted through a proving key that no self-link names any more (replaced, unlinked, or a revoke
        that failed): they still die with that key, so the sweep asks DataOS about it."""
        now = self.clock()
        for owner, proof in await self.minted.live_proofs(now=now):
            if proof.fingerprint in linked:
                continue
            if proof.expiration <= now:
                await self.minted.keep(proof.fingerprint, now=now)
                continue
            if await self.leaked(proof.fingerprint):
                await self._minted_die("key leaked", "sweep", fingerprint=proof.fingerprint)
                continue
            try:
                token = await self.dataos.get_token(owner, proof.key_name)
            except DataOSNotFound:
                await self._minted_die("key gone", "sweep", fingerprint=proof.fingerprint)
                continue
            except DataOSError as exc:
                log.warning("could not check a key that made a self-link: %s", exc)
                continue
            if token.expiration != proof.expiration or (token.secret is not None
                                                         and not await _same_key(token, proof.fingerprint, self)):
                await self._minted_die("key changed", "sweep", fingerprint=proof.fingerprint)


async def _same_key(token: Token, fp: str, links: SelfLinks) -> bool:
    assert token.secret is not None
    other = await links.fingerprint(token.secret)
    return other is not None and hmac.compare_digest(other, fp)
