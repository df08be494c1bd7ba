"""Rotation rules, pure: where a rotated key goes (`vault:<mount>/<path>#<field>`), which paths the bot may
write (`VAULT_ALLOWED_PATHS`), what `rotate … every … before … grace …` means, when a rotation is due,
and the Vault policy a path needs.

No I/O here: the time is passed in, and every refusal is a sentence a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.durations import InvalidDuration, humanize_hours, parse_duration_hours
from bot.domain.names import suggest_name

PREFIX = "vault:"
# \Z, not $: `$` also matches before a final line break
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
_FIELD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
#: Fields the bot writes beside the key itself; a target cannot name one of them as its key's field.
BESIDE = ("key_name", "expires_at", "rotated_by")
DEFAULT_BEFORE_HOURS = 7 * 24
DEFAULT_GRACE = timedelta(hours=1)
#: The longest grace anyone needs for mounted secrets to propagate; a longer one is a typo.
MAX_GRACE = timedelta(days=7)
_GRACE = re.compile(r"^\s*([0-9]{1,6})\s*(s|m|h|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Steps of a rotation, in order; `done` and `failed` end it.
STEPS = ("create", "write", "verify", "announce", "grace", "revoke", "done")
FINAL = ("done", "failed")


class RotationRefused(ValueError):
    """A target or an option that cannot be used; the message is the sentence the admin reads."""


@dataclass(frozen=True)
class VaultTarget:
    """A field of a KV version 2 secret: `vault:secret/pipelines/etl-ingest#apikey`."""

    mount: str
    path: str
    field: str

    def __str__(self) -> str:
        return f"{PREFIX}{self.mount}/{self.path}#{self.field}"

    @property
    def location(self) -> str:
        """`secret/pipelines/etl-ingest`: the secret as people name it (and as VAULT_ALLOWED_PATHS does)."""
        return f"{self.mount}/{self.path}"

    @property
    def data_path(self) -> str:
        """The API path of its versions: `secret/data/pipelines/etl-ingest`."""
        return f"{self.mount}/data/{self.path}"

    @property
    def metadata_path(self) -> str:
        return f"{self.mount}/metadata/{self.path}"


def parse_target(text: str) -> VaultTarget:
    """`vault:<mount>/<path>#<field>`, strictly: the first segment is the KV v2 mount, the rest the secret's
    path; segments of letters, digits, `_`, `.` and `-`; no `..`, no empty segment."""
    raw = (text or "").strip()
    example = "`vault:secret/pipelines/etl-ingest#apikey`"
    if not raw.startswith(PREFIX):
        raise RotationRefused(f"A rotation target starts with `vault:`, for example {example}.")
    where, hash_, field = raw[len(PREFIX):].partition("#")
    if not hash_ or not field:
        raise RotationRefused(f"Name the field that holds the key after `#`, for example {example}.")
    if not _FIELD.match(field):
        raise RotationRefused("A field name has letters, digits, `_`, `.` and `-` only (at most 128).")
    if field in BESIDE:
        raise RotationRefused(f"`{field}` is written by the bot beside the key; name another field for the key.")
    segments = where.split("/")
    if len(segments) < 2:
        raise RotationRefused(f"Name a KV mount and a path under it, for example {example}.")
    for segment in segments:
        if not _SEGMENT.match(segment) or segment in (".", "..") or ".." in segment:
            raise RotationRefused("A path has segments of letters, digits, `_`, `.` and `-` between single `/`, "
                                  "with no `..`.")
    if segments[1] in ("data", "metadata", "delete", "undelete", "destroy", "config", "subkeys"):
        raise RotationRefused(f"Name the secret as people do (`secret/pipelines/etl-ingest`), not its API path "
                              f"(`{segments[0]}/{segments[1]}/…`).")
    return VaultTarget(segments[0], "/".join(segments[1:]), field)


def parse_allowed_paths(text: str | Iterable[str]) -> tuple[str, ...]:
    """`secret/pipelines/, kv/teams` -> ("secret/pipelines/", "kv/teams/"): each a folder prefix."""
    items = [p.strip() for p in text.split(",")] if isinstance(text, str) else [str(p).strip() for p in text]
    out: list[str] = []
    for item in items:
        if not item:
            continue
        item = item.strip("/")
        if not item or any(not _SEGMENT.match(s) or ".." in s for s in item.split("/")):
            raise ValueError(f"not a path prefix: {item[:60]!r}")
        out.append(item + "/")
    return tuple(dict.fromkeys(out))


def check_allowed(target: VaultTarget, allowed: Sequence[str]) -> None:
    """Refuse a target outside every prefix of VAULT_ALLOWED_PATHS (none set: nothing is allowed)."""
    if not allowed:
        raise RotationRefused("No Vault path is open to rotation: the operator sets `VAULT_ALLOWED_PATHS` "
                              "(for example `secret/pipelines/`) first.")
    # Strictly under a prefix: `secret/pipelines` is a secret beside the folder `secret/pipelines/`, which
    # neither the operator opened nor the folder's policy (`secret/data/pipelines/*`) covers.
    if not any(target.location.startswith(prefix) for prefix in allowed):
        shown = ", ".join(f"`{p}`" for p in allowed)
        raise RotationRefused(f"`{target.location}` is outside the paths the bot may write ({shown}, set by "
                              "`VAULT_ALLOWED_PATHS`).")


def parse_grace(text: str) -> timedelta:
    """`1h`, `30m`, `2d`, `0`: how long the old key lives on after its successor is verified."""
    match = _GRACE.match(text or "")
    if not match:
        raise RotationRefused(f"“{(text or '')[:40]}” is not a grace; use minutes, hours or days, e.g. 30m, 1h, "
                              "or 0 to revoke the old key as soon as the new one is verified.")
    grace = timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "h").lower()])
    if grace > MAX_GRACE:
        raise RotationRefused("A grace of more than 7 days keeps the old key alive for nothing; choose a shorter "
                              "one.")
    return grace


@dataclass(frozen=True)
class RotationOptions:
    target: VaultTarget
    every_hours: int | None  # None: the current key's validity (capped by the policy's maximum)
    before_hours: int
    grace: timedelta


def parse_rotate(words: Sequence[str], *, max_hours: int) -> RotationOptions:
    """`vault:… [every <validity>] [before <lead>] [grace <duration>]`, in any order after the target."""
    if not words:
        raise RotationRefused("Name where the key goes: `rotate vault:<mount>/<path>#<field> [every 30d] "
                              "[before 7d] [grace 1h]`.")
    target = parse_target(words[0])
    values: dict[str, str] = {}
    rest = list(words[1:])
    while rest:
        word = rest.pop(0).lower()
        if word not in ("every", "before", "grace"):
            raise RotationRefused(f"I did not understand `{word[:40]}`: after the target come `every <validity>`, "
                                  "`before <lead>` and `grace <duration>`.")
        if not rest:
            raise RotationRefused(f"`{word}` needs a duration after it, for example `{word} 7d`.")
        if word in values:
            raise RotationRefused(f"`{word}` is given twice.")
        values[word] = rest.pop(0)
    try:
        every = parse_duration_hours(values["every"]) if "every" in values else None
        before = parse_duration_hours(values["before"]) if "before" in values else DEFAULT_BEFORE_HOURS
    except InvalidDuration as exc:
        raise RotationRefused(str(exc)) from None
    if every is not None and every > max_hours:
        raise RotationRefused(f"`every` is at most the longest validity allowed, {humanize_hours(max_hours)}.")
    grace = parse_grace(values["grace"]) if "grace" in values else DEFAULT_GRACE
    if every is not None and before >= every:
        raise RotationRefused("`before` must be shorter than `every`, or each new key would be due at once.")
    return RotationOptions(target, every, before, grace)


def validity_hours(every_hours: int | None, current: timedelta | None, *, max_hours: int,
                   fallback_hours: int) -> int:
    """How long each new key is valid: `every`, else the current key's lifetime, else the default, all
    capped by the policy's maximum (whole hours, at least one)."""
    if every_hours is not None:
        hours = every_hours
    elif current is not None and current > timedelta(hours=1):
        hours = int(current.total_seconds() // 3600)
    else:
        hours = fallback_hours
    return max(1, min(hours, max_hours))


def due_at(expiration: datetime, before_hours: int) -> datetime:
    """When the rotation of a key expiring at `expiration` falls due."""
    return expiration - timedelta(hours=before_hours)


def is_due(now: datetime, expiration: datetime, before_hours: int) -> bool:
    return now >= due_at(expiration, before_hours)


def successor_name(old: str, now: datetime, taken: Iterable[str] = ()) -> str:
    """`nightly_ingest` -> `nightly_ingest_20261127` (as Renew names it); a name already in use gets `_2`,
    `_3`… so a second rotation on one day does not collide."""
    base = suggest_name(old, now)
    used = set(taken)
    if base not in used and base != old:
        return base
    for n in range(2, 100):
        name = f"{base[: 255 - len(str(n)) - 1]}_{n}"
        if name not in used:
            return name
    raise RotationRefused("Every successor name for today is taken; rotate again tomorrow.")


def policy_for(target: VaultTarget) -> str:
    """The least a Vault policy must grant for the bot to rotate into `target` (HCL)."""
    return (f'path "{target.data_path}" {{\n  capabilities = ["create", "read", "update"]\n}}\n'
            f'path "{target.metadata_path}" {{\n  capabilities = ["read"]\n}}\n')


#: The capabilities `policy_for` grants, per API path (what doctor checks with sys/capabilities-self).
def needed_capabilities(target: VaultTarget) -> dict[str, tuple[str, ...]]:
    return {target.data_path: ("create", "read", "update"), target.metadata_path: ("read",)}


def missing_capabilities(target: VaultTarget, held: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """What `held` (sys/capabilities-self's answer) lacks of `needed_capabilities`; `root` grants all."""
    missing: dict[str, tuple[str, ...]] = {}
    for path, needed in needed_capabilities(target).items():
        have = set(held.get(path, ()))
        if "root" in have:
            continue
        lacking = tuple(c for c in needed if c not in have)
        if lacking:
            missing[path] = lacking
    return missing


def describe_grace(grace: timedelta) -> str:
    seconds = int(grace.total_seconds())
    if seconds == 0:
        return "none (the old key is revoked as soon as the new one is verified)"
    if seconds % 86400 == 0:
        return humanize_hours(seconds // 3600)
    if seconds % 3600 == 0:
        return humanize_hours(seconds // 3600)
    if seconds % 60 == 0:
        minutes = seconds // 60
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds} seconds"
