"""Buttons and confirms that change a key: each names the exact key it showed, and is re-checked.

A key is exactly its name AND its expiration: DataOS lets a key be revoked and made again under the
same name, and that is another key. So a button that revokes carries both (`blocks.common.exact_value`,
or for "Revoke all N" a short digest of each, `exact_digest`), and its listener re-reads the key from
DataOS right before acting (`KeyService.revoke_exact`): if it is not the same key any more, nothing is
revoked and the person is told so by name. Values never hold a secret; one that does not parse changes
nothing (`blocks.common.DAMAGED_BUTTON`). Who may act is decided again at click time, never by the value.

Slack tells a click apart by (block_id, action_id): wherever one message repeats an action, each of
its blocks gets an explicit block id of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ConfirmObject, ContextBlock, SectionBlock

from bot.dataos import Token
from bot.domain.keys import EXACT_DIGEST_LENGTH, exact_digest, mask_secret
from bot.identity import Identity
from bot.slack.blocks.common import Message, confirm_text, exact_value, slack_date, slack_day, text_message, text_object
from bot.slack.blocks.keys import KEYS_PER_PAGE
from bot.text import shown

ADMIN_REVOKE_ACTION = "admin_revoke"
REVOKE_ALL_ACTION = "admin_revoke_all"
#: Slack's limit on a button's value.
VALUE_MAX = 2000
#: Most "Revoke all" buttons one notice carries (each holds about 160 keys).
MAX_PARTS = 20
_DIGESTS = re.compile(rf"^(?:[0-9a-f]{{{EXACT_DIGEST_LENGTH}}})+$")
_PART = re.compile(r"^(\d{1,2})/(\d{1,2})$")


@dataclass(frozen=True)
class ExactKey:
    """The key a button showed: its name (or `key_ref` digest of a long one) and its expiration."""

    name: str
    expiration: datetime


def _moment(stamp: object) -> datetime | None:
    if isinstance(stamp, str) and stamp.isascii() and stamp.isdigit() and len(stamp) <= 12:
        stamp = int(stamp)
    if isinstance(stamp, bool) or not isinstance(stamp, int) or stamp <= 0:
        return None
    try:
        return datetime.fromtimestamp(stamp, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def exact_key(name: object, stamp: object) -> ExactKey | None:
    """From the parts a button, an option or a form's metadata carried; None if they are not sound."""
    expiration = _moment(stamp)
    if not isinstance(name, str) or not name or len(name) > 255 or expiration is None:
        return None
    return ExactKey(name, expiration)


def parse_exact(value: str, *extra: str) -> tuple[ExactKey, dict[str, str]] | None:
    """A `blocks.common.exact_value`, with the string fields `extra` it must also have; None if damaged."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    key = exact_key(data.get("k"), data.get("e"))
    fields = {name: data.get(name) for name in extra}
    if key is None or not all(isinstance(v, str) and v for v in fields.values()):
        return None
    return key, {k: str(v) for k, v in fields.items()}


def parse_option(value: str) -> ExactKey | None:
    """A picker option's value, `blocks.keys.option_value`."""
    stamp, _, name = value.partition(":")
    return exact_key(name, stamp)


# ---- sentences --------------------------------------------------------------------------------


def replaced_text(name: str, since: str = "this message") -> str:
    return f"`{shown(name)}` was replaced after {since}; nothing was revoked."


def gone_text(name: str, whose: str = "") -> str:
    """`whose` ("of DataOS user `ada`") goes with the key's name, inside the sentence."""
    return (f"`{shown(name)}`{' ' + whose if whose else ''} is no longer in DataOS (it may have been revoked "
            "already); nothing was revoked.")


# ---- /apikey admin keys -----------------------------------------------------------------------


def admin_keys_message(target: str, identity: Identity, tokens: Sequence[Token]) -> Message:
    """`/apikey admin keys`: one section and one Revoke per key. The same action repeats in one message,
    so every block has its own id, and each Revoke carries whose key, its name and its expiration."""
    dataos_user = identity.dataos_user_id
    more = f" (the first {KEYS_PER_PAGE} of {len(tokens)})" if len(tokens) > KEYS_PER_PAGE else ""
    how = {"e-mail": "mapped by e-mail", "self link": "linked themselves", "admin link": "linked by an admin"}
    intro = f"Keys of <@{target}> (DataOS user `{shown(dataos_user)}`, {how[identity.how]}){more}:"
    found: list[Block] = [SectionBlock(block_id="admin_keys", text=intro)]
    for i, token in enumerate(tokens[:KEYS_PER_PAGE]):
        masked = mask_secret(token.secret.get_secret_value()) if token.secret else "…"
        value = exact_value(token.name, token.expiration, u=dataos_user)
        if len(value) > VALUE_MAX:  # a DataOS user id too long for a button: whose key is found again by Slack user
            value = exact_value(token.name, token.expiration, t=target)
        found += [
            SectionBlock(block_id=f"admin_key:{i}", text=f"*{shown(token.name)}* · expires "
                                                         f"{slack_date(token.expiration)} · `{masked}`"),
            ActionsBlock(block_id=f"admin_revoke:{i}", elements=[ButtonElement(
                text="Revoke", action_id=ADMIN_REVOKE_ACTION, style="danger",
                value=value,
                confirm=ConfirmObject(title="Revoke this key?",
                                      # the expiry in the admin's own time zone, as in the row above (not UTC)
                                      text=confirm_text(f"*{shown(token.name, 80)}* of `{shown(dataos_user, 80)}` "
                                                        f"(expires {slack_date(token.expiration)}) stops working "
                                                        "at once."),
                                      confirm="Revoke", deny="Keep it", style="danger"))]),
        ]
    return Message(intro, [b.to_dict() for b in found])


def admin_revoked_message(actor: str, name: str, dataos_user: str, at: datetime) -> Message:
    """The DM to a key's owner after an admin revoked it: who, which key, when."""
    return text_message(
        f":wastebasket: <@{shown(actor, 32)}>, a platform admin, revoked your DataOS API key *{shown(name)}* "
        f"(DataOS user `{shown(dataos_user)}`) {slack_day(at)}. Anything still using it is now refused by "
        f"DataOS. If you did not expect this, ask <@{shown(actor, 32)}>; `/apikey create` makes a new key.")


# ---- "Revoke all N" on an offboarding notice --------------------------------------------------


@dataclass(frozen=True)
class RevokeAll:
    """What one "Revoke all" button names: whose keys, and exactly which (a digest per key)."""

    dataos_user: str
    who: str
    digests: tuple[str, ...]
    part: int
    parts: int


def offboarding_notice(who: str, dataos_user: str, tokens: Sequence[Token]) -> Message:
    """The admins' DM about a deactivated member's keys, with "Revoke all N" naming exactly the N keys
    listed. When their digests do not fit one button's value, several buttons, each in its own block."""
    names = ", ".join(f"`{shown(t.name, 60)}`" for t in tokens[:30]) + (" …" if len(tokens) > 30 else "")
    text = (f":bust_in_silhouette: <@{shown(who, 32)}> was deactivated in Slack and still has {len(tokens)} "
            f"DataOS API key{'s' if len(tokens) != 1 else ''} (DataOS user `{shown(dataos_user)}`): {names}.")
    return Message(text, [SectionBlock(block_id="notice", text=text).to_dict(),
                          *_revoke_all_blocks(who, dataos_user, tokens)])


def reactivated_text(who: str, at: datetime) -> str:
    """The sentence a deactivation notice turns into, and its Revoke all's refusal, once they are back."""
    return f"<@{shown(who, 32)}> was reactivated in Slack {slack_date(at)}."


def reactivated_notice(who: str, at: datetime, *, restored: Sequence[str] = ()) -> Message:
    """A deactivation notice, updated in place when the member is reactivated: its Revoke all is gone (and
    refuses if pressed from an older copy), and what was undone is said."""
    teams = (f" They own {', '.join(f'`{shown(t, 80)}`' for t in restored[:20])} again." if restored else "")
    text = (f":arrows_counterclockwise: {reactivated_text(who, at)} This notice no longer applies: its Revoke all "
            f"does nothing now, and keys already revoked from it stay revoked.{teams} `/apikey admin keys "
            f"<@{shown(who, 32)}>` lists their keys.")
    return Message(text, [SectionBlock(block_id="notice", text=text).to_dict()])


def _revoke_all_blocks(who: str, dataos_user: str, tokens: Sequence[Token]) -> list[dict[str, Any]]:
    digests = [exact_digest(t.name, t.expiration) for t in tokens]
    probe = {"u": dataos_user, "s": who, "p": f"{MAX_PARTS}/{MAX_PARTS}", "d": ""}
    per = max(1, (VALUE_MAX - len(json.dumps(probe, separators=(",", ":")))) // EXACT_DIGEST_LENGTH)
    if len(json.dumps(probe, separators=(",", ":"))) + EXACT_DIGEST_LENGTH > VALUE_MAX:
        return [ContextBlock(block_id="revoke_all:none", elements=[text_object(
            f"Their DataOS user id is too long for a button; `/apikey admin keys <@{shown(who, 32)}>` revokes "
            "their keys one by one.")]).to_dict()]
    chunks = [digests[i:i + per] for i in range(0, len(digests), per)][:MAX_PARTS]
    found: list[dict[str, Any]] = []
    for n, chunk in enumerate(chunks, start=1):
        first = (n - 1) * per + 1
        label = f"Revoke all {len(chunk)}" if len(chunks) == 1 else f"Revoke keys {first}–{first + len(chunk) - 1}"
        value = json.dumps({"u": dataos_user, "s": who, "p": f"{n}/{len(chunks)}", "d": "".join(chunk)},
                           separators=(",", ":"))
        found.append(ActionsBlock(block_id=f"revoke_all:{n}", elements=[ButtonElement(
            text=label, action_id=REVOKE_ALL_ACTION, value=value, style="danger",
            confirm=ConfirmObject(title="Revoke their keys?",
                                  text=f"The {len(chunk)} key{'s' if len(chunk) != 1 else ''} listed stop working "
                                       "at once. Keys made after this message are left alone.",
                                  confirm="Revoke", deny="Not now", style="danger"))]).to_dict())
    covered = sum(len(c) for c in chunks)
    if covered < len(tokens):
        found.append(ContextBlock(block_id="revoke_all:more", elements=[text_object(
            f"The buttons cover the first {covered} of {len(tokens)} keys; `/apikey admin keys` lists them.")]
        ).to_dict())
    return found


def parse_revoke_all(value: str) -> RevokeAll | None:
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    user, who, digests, part = data.get("u"), data.get("s"), data.get("d"), data.get("p")
    if not (isinstance(user, str) and user and isinstance(who, str) and who and isinstance(digests, str)
            and _DIGESTS.match(digests) and isinstance(part, str)):
        return None
    match = _PART.match(part)
    if match is None or not 1 <= int(match.group(1)) <= int(match.group(2)) <= MAX_PARTS:
        return None
    chunked = tuple(digests[i:i + EXACT_DIGEST_LENGTH] for i in range(0, len(digests), EXACT_DIGEST_LENGTH))
    return RevokeAll(user, who, chunked, int(match.group(1)), int(match.group(2)))


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"`{shown(n, 60)}`" for n in names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20
                                                                 else "")


def revoke_all_result(actor: str, request: RevokeAll, *, revoked: Sequence[str], gone: int,
                      left: Sequence[str], failed: Sequence[str]) -> str:
    """What pressing "Revoke all" did, naming the keys it left alone and why."""
    listed = len(request.digests)
    part = f" (button {request.part} of {request.parts})" if request.parts > 1 else ""
    lines = [f":wastebasket: <@{shown(actor, 32)}> revoked {len(revoked)} of the {listed} listed key"
             f"{'s' if listed != 1 else ''} of <@{shown(request.who, 32)}> (DataOS user "
             f"`{shown(request.dataos_user)}`){part}" + (f": {_names(revoked)}." if revoked else ".")]
    if gone:
        lines.append(f"{gone} of the listed keys {'was' if gone == 1 else 'were'} already gone.")
    if left:
        why = "made or replaced after this message" if request.parts == 1 else "not on this button"
        lines.append(f"Left alone, {why}: {_names(left)}. `/apikey admin keys <@{shown(request.who, 32)}>` "
                     "revokes them one by one.")
    if failed:
        lines.append(f":x: DataOS did not revoke {_names(failed)}; nothing else changed for "
                     f"{'it' if len(failed) == 1 else 'them'}. Press the button again later.")
    return "\n".join(lines)
