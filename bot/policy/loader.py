"""Reading a key policy file (POLICY_FILE): TOML read by Python's own `tomllib`, then checked key by key.

Every problem is one sentence that names the line: tomllib's own syntax errors carry it, and for a key
that parses but means nothing (a validity that is not one, an unknown key, an approver that is not an
id) the line of that very key is found in the text, since tomllib keeps no positions.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from bot.config import ConfigError, Settings
from bot.domain.durations import InvalidDuration, humanize_hours, parse_duration_hours
from bot.domain.key_policy import (
    ADMINS,
    EVERYONE,
    GROUP_ID,
    TEAM_OWNERS,
    USER_ID,
    KeyPolicy,
    Rule,
    Scope,
)

#: The largest policy file read: a policy is a page of rules, not a database.
MAX_BYTES = 256 * 1024
#: A request open longer than this would outlive anyone's memory of why it was asked.
MAX_TTL_HOURS = 30 * 24
DEFAULT_TTL_HOURS = 8
NEVER = "never"
_NAME = re.compile(r"^[A-Za-z0-9 _.()-]{1,60}$")
_TAG = re.compile(r"^[A-Za-z0-9:._/-]{1,128}$")
RULE_KEYS = ("name", "members", "keys", "max_validity", "approval_above", "approvers", "request_ttl",
             "self_approval", "approver_tag", "approver_self_link")
DEFAULT_KEYS = tuple(k for k in RULE_KEYS if k not in ("name", "members", "keys"))


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the line."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.problem = message
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class _Where:
    """Where each table and key starts in the text (1-based lines)."""

    lines: dict[tuple[str, int, str], int]

    def of(self, table: str, index: int, key: str = "") -> int | None:
        return self.lines.get((table, index, key)) or self.lines.get((table, index, ""))


_HEADER = re.compile(r"^\s*(\[\[?)\s*\"?([A-Za-z0-9_-]+)\"?\s*\]\]?")
_KEY = re.compile(r"^\s*([\"']?)([A-Za-z0-9_-]+)\1\s*=")


def _locate(text: str) -> _Where:
    lines: dict[tuple[str, int, str], int] = {}
    table, index = "", 0
    counts: dict[str, int] = {}
    in_multiline = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.count('"""') % 2 or raw.count("'''") % 2:
            in_multiline = not in_multiline
            if not in_multiline:
                continue
        if in_multiline:
            continue
        header = _HEADER.match(raw)
        if header:
            table = header.group(2)
            if header.group(1) == "[[":
                counts[table] = counts.get(table, 0) + 1
                index = counts[table]
            else:
                index = 0
            lines.setdefault((table, index, ""), number)
            continue
        key = _KEY.match(raw)
        if key:
            lines.setdefault((table, index, key.group(2)), number)
    return _Where(lines)


def load_policy_file(path: str | Path, *, fallback_max_hours: int) -> KeyPolicy:
    """Read and check `path`; raises PolicyError naming the file and the line."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise PolicyError(source, None, "no such file") from None
    except IsADirectoryError:
        raise PolicyError(source, None, "is a directory, not a policy file") from None
    except OSError as exc:
        raise PolicyError(source, None, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(raw) > MAX_BYTES:
        raise PolicyError(source, None, f"is larger than {MAX_BYTES // 1024} kB; a policy is a page of rules")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError(source, line, "is not UTF-8 text") from None
    return load_policy(text, source=source, fallback_max_hours=fallback_max_hours)


_AT_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)$")


def load_policy(text: str, *, source: str = "policy", fallback_max_hours: int) -> KeyPolicy:
    """Parse and check a policy's TOML text; raises PolicyError naming the line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _AT_LINE.search(message)
        line = int(found.group(1)) if found else None
        raise PolicyError(source, line, f"not valid TOML: {_AT_LINE.sub('', message)}") from None
    where = _locate(text)
    checker = _Checker(source, where)
    for key in data:
        if key not in ("defaults", "rules"):
            checker.fail("", 0, key, f"unknown table or key `{_safe(key)}`; a policy has `[defaults]` and "
                                     "`[[rules]]`" + _did_you_mean(key, ("defaults", "rules")))
    defaults_raw = data.get("defaults", {})
    if not isinstance(defaults_raw, dict):
        checker.fail("", 0, "defaults", "`defaults` must be a table: `[defaults]`")
    rules_raw = data.get("rules", [])
    if not isinstance(rules_raw, list) or not all(isinstance(r, dict) for r in rules_raw):
        checker.fail("", 0, "rules", "`rules` must be an array of tables: `[[rules]]`")
    fallback = Rule("defaults", max_hours=fallback_max_hours, request_ttl_hours=DEFAULT_TTL_HOURS)
    defaults = checker.rule(defaults_raw, "defaults", 0, fallback, is_default=True)
    rules = tuple(checker.rule(raw, "rules", i, defaults) for i, raw in enumerate(rules_raw, start=1))
    return KeyPolicy(defaults, rules, source)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_ .:-]", "?", text)[:60]


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


Fail = Callable[[str, str], NoReturn]


class _Checker:
    def __init__(self, source: str, where: _Where) -> None:
        self.source = source
        self.where = where

    def fail(self, table: str, index: int, key: str, message: str) -> NoReturn:
        raise PolicyError(self.source, self.where.of(table, index, key), message)

    def rule(self, raw: dict[str, Any], table: str, index: int, base: Rule, *, is_default: bool = False) -> Rule:
        label = "[defaults]" if is_default else f"rule {index}"
        allowed = DEFAULT_KEYS if is_default else RULE_KEYS
        for key in raw:
            if key not in allowed:
                hint = (" (only a rule has members, keys and a name; [defaults] applies to everyone)"
                        if is_default and key in RULE_KEYS else _did_you_mean(key, allowed))
                self.fail(table, index, key, f"unknown key `{_safe(key)}` in {label}{hint}")

        def fail(key: str, message: str) -> NoReturn:
            self.fail(table, index, key, f"{label}: {message}")

        name = raw.get("name")
        if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
            fail("name", "`name` must be up to 60 letters, digits, spaces or `_.()-`")
        if is_default:
            members: tuple[str, ...] = (EVERYONE,)
            scope: Scope = "any"
        else:
            members = self._members(raw, fail)
            scope = self._scope(raw, fail)
        max_hours = self._duration(raw, "max_validity", fail, base.max_hours)
        if "approval_above" in raw and raw["approval_above"] == NEVER:
            approval_above: int | None = None
        else:
            approval_above = self._duration(raw, "approval_above", fail, base.approval_above)
        ttl = self._duration(raw, "request_ttl", fail, base.request_ttl_hours)
        assert ttl is not None and max_hours is not None
        if ttl > MAX_TTL_HOURS:
            fail("request_ttl", f"`request_ttl` is at most {humanize_hours(MAX_TTL_HOURS)}; a request open longer "
                                "would outlive anyone's memory of why it was made")
        approvers = self._approvers(raw, fail, base.approvers)
        if approval_above is not None and approval_above < max_hours and not approvers:
            fail("approvers", "`approvers` is empty, so nobody could approve a key above approval_above")
        if TEAM_OWNERS in approvers and scope == "personal":
            fail("approvers", "`team-owners` approve only team keys, and this rule is for personal keys")
        self_approval = self._bool(raw, "self_approval", fail, base.self_approval)
        self_link = self._bool(raw, "approver_self_link", fail, base.approver_self_link)
        tag = raw.get("approver_tag", base.approver_tag)
        if tag is not None and (not isinstance(tag, str) or not _TAG.match(tag)):
            fail("approver_tag", "`approver_tag` must be a DataOS tag such as \"roles:id:operator\"")
        line = self.where.of(table, index)
        shown_label = "the defaults" if is_default else (f"rule “{name}”" if name else f"rule {index}")
        return Rule(shown_label, members, scope, max_hours, approval_above, approvers, ttl, self_approval, tag,
                    self_link, line)

    def _members(self, raw: dict[str, Any], fail: Fail) -> tuple[str, ...]:
        if "members" not in raw:
            fail("members", "`members` is missing: Slack user ids (U…), user group ids (S…) or \"everyone\"")
        members = raw["members"]
        if isinstance(members, str):
            members = [members]
        if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
            fail("members", "`members` must be a list of Slack user ids (U…), user group ids (S…) or \"everyone\"")
        for member in members:
            if member != EVERYONE and not USER_ID.match(member) and not GROUP_ID.match(member):
                fail("members", f"`{_safe(member)}` is not a Slack user id (U…), a user group id (S…) or "
                                "\"everyone\"")
        if EVERYONE in members and len(members) > 1:
            fail("members", "\"everyone\" already includes every id listed beside it")
        if len(set(members)) != len(members):
            fail("members", "an id is listed twice")
        return tuple(members)

    def _scope(self, raw: dict[str, Any], fail: Fail) -> Scope:
        scope = raw.get("keys", "any")
        if scope not in ("personal", "team", "any"):
            fail("keys", "`keys` must be \"personal\", \"team\" or \"any\"")
        result: Scope = scope
        return result

    def _duration(self, raw: dict[str, Any], key: str, fail: Fail, base: int | None) -> int | None:
        if key not in raw:
            return base
        value = raw[key]
        if not isinstance(value, str):
            extra = ' or "never"' if key == "approval_above" else ""
            fail(key, f"`{key}` must be a duration in quotes, such as \"90d\", \"2w\" or \"36h\"{extra}")
        try:
            return parse_duration_hours(value)
        except InvalidDuration as exc:
            fail(key, f"`{key}`: {exc}")

    def _approvers(self, raw: dict[str, Any], fail: Fail, base: tuple[str, ...]) -> tuple[str, ...]:
        if "approvers" not in raw:
            return base
        value = raw["approvers"]
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
            fail("approvers", "`approvers` must be a list: \"admins\", \"team-owners\", Slack user ids (U…) or "
                              "user group ids (S…)")
        for item in value:
            if item not in (ADMINS, TEAM_OWNERS) and not USER_ID.match(item) and not GROUP_ID.match(item):
                fail("approvers", f"`{_safe(item)}` is not \"admins\", \"team-owners\", a Slack user id (U…) or "
                                  "a user group id (S…)")
        if len(set(value)) != len(value):
            fail("approvers", "an approver is listed twice")
        return tuple(value)

    def _bool(self, raw: dict[str, Any], key: str, fail: Fail, base: bool) -> bool:
        value = raw.get(key, base)
        if not isinstance(value, bool):
            fail(key, f"`{key}` must be true or false (without quotes)")
        result: bool = value
        return result


def describe(policy: KeyPolicy) -> list[str]:
    """`apikey-bot policy check`'s summary: one line per rule, in the order they are tried."""
    out = []
    for rule in policy.all_rules():
        who = "everyone" if rule.members == (EVERYONE,) else ", ".join(rule.members)
        approval = ("no approval" if rule.approval_above is None or rule.approval_above >= rule.max_hours else
                    f"approval above {humanize_hours(rule.approval_above)} by {', '.join(rule.approvers)}, requests "
                    f"expire after {humanize_hours(rule.request_ttl_hours)}"
                    + (", self-approval allowed" if rule.self_approval else ""))
        extra = (f", approvers tagged {rule.approver_tag}" if rule.approver_tag else "") + (
            ", approvers self-linked" if rule.approver_self_link else "")
        at = f" (line {rule.line})" if rule.line else ""
        out.append(f"{rule.label}{at}: {who}, {rule.keys} keys, up to {humanize_hours(rule.max_hours)}, "
                   f"{approval}{extra}")
    return out


def policy_of(settings: Settings) -> KeyPolicy | None:
    """POLICY_FILE, read and checked; ConfigError (one line naming POLICY_FILE and the line) if it is broken.
    Without POLICY_FILE, None: today's behaviour (MAX_VALIDITY for everyone, no approvals)."""
    if not settings.policy_file:
        return None
    try:
        return load_policy_file(settings.policy_file, fallback_max_hours=settings.max_validity_hours)
    except PolicyError as exc:
        raise ConfigError(f"configuration error: POLICY_FILE is invalid: {exc}") from None
