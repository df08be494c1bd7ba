"""The steps of one rotation, each an external effect followed by its record:

1. create the successor in DataOS (or find the one a crashed attempt made: its name was recorded first);
2. write it to Vault as a new version, check-and-set on the version read just before (or find that a
   crashed attempt already wrote it: the newest version names it and holds the same key, by keyed hash);
3. verify: read that version back, compare by keyed hash, and ask DataOS whom the new key belongs to;
4. announce in the team channel (its owners by DM when the channel is shared with another organisation; the
   audit channel for the bot's own key): claimed before it is posted, so a post whose outcome is unknown is
   never posted twice;
5. after the grace, revoke the old key (exact name and expiry) and update the announcement in place.

Each function returns the values to record and the next step. `observe(event, rotation)` is told right
after each external effect, before its record: what a crash there would leave behind is what the resume
logic above must handle (the tests crash the process exactly there).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from bot.dataos import DataOSError, DataOSForbidden, DataOSUnauthorized, Token
from bot.delivery import fate_of
from bot.domain.rotation import VaultTarget, due_at, parse_target
from bot.rotation.audience import Audience, dm_owners
from bot.slack.blocks.common import slack_date
from bot.slack.blocks.rotation import announcement
from bot.store import Audit, Sighting
from bot.store.rotations import Rotation
from bot.vault import SecretStore, VaultCasConflict, VaultError

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
Observe = Callable[[str, Rotation], None]
#: Who wrote a version, in the `rotated_by` field beside the key.
WRITER = "apikey-bot"


class StepFailed(Exception):
    """A step could not be done; the message is a sentence. `needs_person`: no retry can help.
    `written`: False when the successor is certainly not in the store (it may then be revoked)."""

    def __init__(self, message: str, *, needs_person: bool = False, written: bool | None = None) -> None:
        super().__init__(message)
        self.needs_person = needs_person
        self.written = written


def needs_person(exc: Exception) -> bool:
    """No retry can help (a permission, a key replaced meanwhile): the rotation gives up at once."""
    if isinstance(exc, StepFailed | VaultError):
        return exc.needs_person
    return isinstance(exc, DataOSForbidden | DataOSUnauthorized)


def not_written(exc: Exception) -> bool:
    """The successor is certainly not in the store after this failure (it may then be revoked)."""
    if isinstance(exc, StepFailed):
        return exc.written is False
    if isinstance(exc, VaultError):
        return exc.changed is False
    return isinstance(exc, DataOSError)  # the write was not reached


@dataclass(frozen=True)
class Outcome:
    step: str
    values: dict[str, Any]


def keyed_hash(secret: bytes, value: SecretStr) -> str:
    return hmac.new(secret, value.get_secret_value().encode(), hashlib.sha256).hexdigest()


async def audit(rt: Runtime, action: str, outcome: str, app_user_id: str, key_name: str | None,
                key_expiration: datetime | None, detail: str, actor: str = "rotation") -> None:
    await rt.keys.trail.record(Audit(at=rt.clock(), actor_slack_id=actor[:32], dataos_user_id=app_user_id[:255],
                                     action=action, outcome=outcome[:32], key_name=key_name,
                                     key_expiration=key_expiration, detail=detail[:500]))


def target_of(rot: Rotation) -> VaultTarget:
    return parse_target(rot.target)


async def successor(rt: Runtime, rot: Rotation) -> Token:
    """The successor as DataOS has it now (with its value: DataOS keys stay readable)."""
    token = await rt.dataos.get_token(rot.app_user_id, rot.new_name)
    if token.secret is None:
        raise StepFailed(f"DataOS did not return the value of `{rot.new_name}`.")
    if rot.new_expiration is not None and int(token.expiration.timestamp()) != int(rot.new_expiration.timestamp()):
        raise StepFailed(f"`{rot.new_name}` was replaced in DataOS during the rotation; nothing was written.",
                         needs_person=True, written=False)
    return token


async def create(rt: Runtime, rot: Rotation, observe: Observe) -> Outcome:
    now = rt.clock()
    # Listed rather than asked by name: a successor not made yet is the usual case, not a 404 to log.
    token = next((t for t in await rt.dataos.list_tokens(rot.app_user_id) if t.name == rot.new_name), None)
    if token is not None and token.expiration <= now:
        raise StepFailed(f"An expired key named `{rot.new_name}` is in the way; revoke it and retry.",
                         needs_person=True, written=False)
    if token is None:
        token = await rt.dataos.create_token(rot.app_user_id, name=rot.new_name, hours=rot.hours,
                                             description=f"rotated by apikey-bot into {target_of(rot).location}")
        reused = False
    else:
        reused = True  # made by an attempt that stopped before recording it: reused, never a second one
    observe("created", rot)
    try:
        await rt.sightings.save_sightings([Sighting(rot.app_user_id, token.name, token.expiration, first_seen=now,
                                                    created_at=now)])
    except Exception as exc:  # bookkeeping for reminders only
        log.warning("could not record the sighting of %s: %s", token.name, type(exc).__name__)
    await audit(rt, "rotate create", "ok (reused)" if reused else "ok", rot.app_user_id, token.name,
                token.expiration, f"rotation {rot.id} into {target_of(rot).location}")
    return Outcome("write", {"new_expiration": token.expiration})


async def write(rt: Runtime, store: SecretStore, rot: Rotation, observe: Observe) -> Outcome:
    target = target_of(rot)
    token = await successor(rt, rot)
    assert token.secret is not None
    secret = await rt.hash_key()
    mine = keyed_hash(secret, token.secret)
    current = await store.read(target.mount, target.path)
    if current is not None and _holds(secret, current.data, target.field, rot.new_name, mine):
        observe("written", rot)  # an earlier attempt wrote it and stopped before recording: not written twice
        return Outcome("verify", {"version": current.version, "version_before": rot.version_before})
    observe("read", rot)
    cas = current.version if current is not None else 0
    data = {k: v for k, v in (current.data if current is not None else {}).items()
            if k not in (target.field, "key_name", "expires_at", "rotated_by")}
    data.update({target.field: token.secret, "key_name": SecretStr(token.name),
                 "expires_at": SecretStr(token.expiration.isoformat().replace("+00:00", "Z")),
                 "rotated_by": SecretStr(f"{WRITER} ({rot.trigger})")})
    try:
        version = await store.write(target.mount, target.path, data, cas=cas)
    except VaultCasConflict:
        if current is not None:
            raise
        # No readable newest version is not always "no secret": a deleted or destroyed newest version still
        # counts in the metadata, and check-and-set 0 fails on it every time. Written over it only while it still
        # cannot be read (a version that can be read now is someone else's write: never overwritten).
        cas = await store.current_version(target.mount, target.path)
        if cas == 0 or await store.read(target.mount, target.path) is not None:
            raise
        version = await store.write(target.mount, target.path, data, cas=cas)
    observe("written", rot)
    return Outcome("verify", {"version": version, "version_before": cas})


def _holds(secret: bytes, data: dict[str, SecretStr], field: str, name: str, mine: str) -> bool:
    value, key_name = data.get(field), data.get("key_name")
    return (value is not None and key_name is not None and key_name.get_secret_value() == name
            and hmac.compare_digest(keyed_hash(secret, value), mine))


async def verify(rt: Runtime, store: SecretStore, rot: Rotation, observe: Observe) -> Outcome:
    target = target_of(rot)
    token = await successor(rt, rot)
    assert token.secret is not None and rot.version is not None
    stored = await store.read(target.mount, target.path, rot.version)
    secret = await rt.hash_key()
    if stored is None or not _holds(secret, stored.data, target.field, rot.new_name, keyed_hash(secret, token.secret)):
        raise StepFailed(f"Version {rot.version} of `{target.location}` read back does not hold the new key "
                         f"`{rot.new_name}`; the old key was not touched.")
    owner = (await rt.dataos.authorize(token.secret)).user_id
    if owner != rot.app_user_id:
        raise StepFailed(f"DataOS does not accept the new key `{rot.new_name}` for `{rot.app_user_id}`; the old key "
                         "was not touched.")
    observe("verified", rot)
    return Outcome("announce", {})


async def announce(rt: Runtime, rot: Rotation, observe: Observe, to: Audience,
                   claim: Callable[[], Any]) -> Outcome:
    """Post once, in the channel (or, when the team channel is shared with another organisation, to each owner
    by DM: `announce = dm`). `claim()` records `announce = sending` before the post: a resume that finds it
    so does not know whether Slack took the post, and never posts it again."""
    now = rt.clock()
    revoke_at = now + rot.grace
    done = {"step": "grace", "revoke_at": revoke_at}
    if rot.announce == "sending":
        return Outcome("grace", {**done, "announce": "unknown"})
    channel = to.channel
    if (channel is None and not to.owners) or rot.new_expiration is None or rot.version is None:
        return Outcome("grace", {**done, "announce": "none"})
    await claim()
    message = announcement(rot.app_user_id, rot.kind, target=target_of(rot).location, version=rot.version,
                           new_name=rot.new_name, new_expiration=rot.new_expiration, old_name=rot.old_name,
                           revoke_at=revoke_at, now=now)
    if channel is None:
        told = await dm_owners(rt, to.owners, message, f"of rotation {rot.id}")
        observe("announced", rot)
        if not told:
            return Outcome("grace", {**done, "announce": "refused", "error": "the owners' DMs were refused by Slack"})
        return Outcome("grace", {**done, "announce": "dm"})
    try:
        answer = await rt.slack.chat_postMessage(channel=channel, unfurl_links=False, **message.kwargs())
    except Exception as exc:
        fate, code = fate_of(exc)
        log.warning("could not announce rotation %d in %s: %s", rot.id, channel, code)
        return Outcome("grace", {**done, "announce": "unknown" if fate == "unknown" else "refused",
                                 "error": f"the announcement was refused by Slack ({code})"})
    observe("announced", rot)
    return Outcome("grace", {**done, "announce": "sent", "channel": str(answer.get("channel") or channel),
                             "ts": str(answer.get("ts") or "")})


def next_rotation(rot: Rotation, before_hours: int) -> datetime | None:
    return due_at(rot.new_expiration, before_hours) if rot.new_expiration is not None else None


def revoke_words(outcome: str, now: datetime) -> str:
    return {"revoked": f"was revoked {slack_date(now)}.",
            "gone": "was already gone from DataOS.",
            "changed": "was left alone: a different key has that name now."}[outcome]


