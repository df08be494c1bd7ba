"""The key policy (issue #28): who may have which key for how long, and who must approve it. Pure.

A policy is a `[defaults]` rule and an ordered list of rules; the first rule whose members include the
person and whose `keys` covers the kind of key applies, else the defaults. For a validity, that rule
gives exactly one decision: allowed, needs approval (by whom), or refused (with the maximum).
Loading and checking the TOML file is `bot.policy`; this module only holds the model and the decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from bot.domain.durations import humanize_hours

Kind = Literal["personal", "team"]
Scope = Literal["personal", "team", "any"]
KINDS: tuple[Kind, ...] = ("personal", "team")
EVERYONE = "everyone"
ADMINS = "admins"
TEAM_OWNERS = "team-owners"
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,31}$")


@dataclass(frozen=True)
class Rule:
    """One rule, with everything it inherits from `[defaults]` already filled in."""

    label: str  # "defaults", or "rule 2" / the rule's own `name`, for people to read
    members: tuple[str, ...] = (EVERYONE,)
    keys: Scope = "any"
    max_hours: int = 365 * 24
    approval_above: int | None = None  # hours; None: no approval is ever needed
    approvers: tuple[str, ...] = (ADMINS,)
    request_ttl_hours: int = 8
    self_approval: bool = False
    #: An approval counts only from someone mapped to a DataOS user carrying this tag (see SECURITY.md).
    approver_tag: str | None = None
    #: An approval counts only from someone whose mapping was proven with one of their own keys.
    approver_self_link: bool = False
    line: int | None = None  # where the rule starts in the file

    def covers(self, kind: Kind) -> bool:
        return self.keys == "any" or self.keys == kind

    def matches(self, subject: Subject) -> bool:
        return any(m == EVERYONE or m == subject.slack_user_id or m in subject.groups for m in self.members)

    def needs_groups(self) -> frozenset[str]:
        return frozenset(m for m in self.members if GROUP_ID.match(m))


@dataclass(frozen=True)
class KeyPolicy:
    defaults: Rule
    rules: tuple[Rule, ...] = ()
    source: str = ""  # the file it came from, for messages

    def all_rules(self) -> tuple[Rule, ...]:
        return (*self.rules, self.defaults)

    def groups_named(self) -> frozenset[str]:
        """The user groups whose members decide which rule applies to someone."""
        found: set[str] = set()
        for rule in self.rules:
            found |= rule.needs_groups()
        return frozenset(found)

    def longest(self) -> int:
        """The longest validity any rule allows anyone: no form may offer more."""
        return max(rule.max_hours for rule in self.all_rules())


@dataclass(frozen=True)
class Subject:
    """The person asking, as a policy sees them: their Slack id and the user groups they are in."""

    slack_user_id: str
    groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Allowed:
    rule: Rule
    hours: int


@dataclass(frozen=True)
class NeedsApproval:
    rule: Rule
    hours: int

    @property
    def approvers(self) -> tuple[str, ...]:
        return self.rule.approvers

    @property
    def ttl_hours(self) -> int:
        return self.rule.request_ttl_hours


@dataclass(frozen=True)
class Refused:
    rule: Rule
    hours: int

    @property
    def maximum(self) -> int:
        return self.rule.max_hours

    @property
    def sentence(self) -> str:
        if self.hours < 1:
            return "A validity must be at least 1 hour."
        return (f"The longest validity your key policy allows for this key is {humanize_hours(self.rule.max_hours)} "
                f"({self.rule.label}).")


Decision = Allowed | NeedsApproval | Refused


def rule_for(policy: KeyPolicy, subject: Subject, kind: Kind) -> Rule:
    """The first rule that names the person (or everyone) and covers the kind of key; else the defaults."""
    for rule in policy.rules:
        if rule.covers(kind) and rule.matches(subject):
            return rule
    return policy.defaults


def decide(policy: KeyPolicy, subject: Subject, kind: Kind, hours: int) -> Decision:
    """Exactly one decision for (person, kind, validity)."""
    rule = rule_for(policy, subject, kind)
    return decide_by(rule, hours)


def decide_by(rule: Rule, hours: int) -> Decision:
    if hours < 1 or hours > rule.max_hours:
        return Refused(rule, hours)
    if rule.approval_above is not None and hours > rule.approval_above:
        return NeedsApproval(rule, hours)
    return Allowed(rule, hours)


def describe_members(members: Iterable[str]) -> str:
    """`everyone`, or mentions Slack shows as names: `<@U1>`, `<!subteam^S1>`."""
    parts = [m if m == EVERYONE else f"<!subteam^{m}>" if GROUP_ID.match(m) else f"<@{m}>" for m in members]
    return _and(parts)


def describe_approvers(approvers: Iterable[str]) -> str:
    words = {ADMINS: "the platform admins", TEAM_OWNERS: "the team's owners"}
    parts = [words.get(a) or (f"<!subteam^{a}>" if GROUP_ID.match(a) else f"<@{a}>") for a in approvers]
    return _and(parts)


def _and(parts: list[str]) -> str:
    if not parts:
        return "nobody"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def rule_summary(rule: Rule, kind: Kind) -> str:
    """One sentence: `Personal keys: up to 180 days; above 30 days, approval by <!subteam^S1> (requests
    expire after 8 hours; you may not approve your own).`"""
    what = "Personal keys" if kind == "personal" else "Keys of application users you own"
    text = f"{what}: up to {humanize_hours(rule.max_hours)}"
    if rule.approval_above is None or rule.approval_above >= rule.max_hours:
        return text + ", no approval needed."
    own = "you may approve your own" if rule.self_approval else "you may not approve your own"
    text += (f"; above {humanize_hours(rule.approval_above)}, approval by {describe_approvers(rule.approvers)} "
             f"(requests expire after {humanize_hours(rule.request_ttl_hours)}; {own}")
    if rule.approver_tag:
        text += f"; approvers must be DataOS users tagged `{rule.approver_tag}`"
    if rule.approver_self_link:
        text += "; approvers must have linked themselves with a key of theirs"
    return text + ")."
