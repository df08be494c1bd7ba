"""The key policy at work: which rule applies to a Slack user now, what it decides for a validity, what
the create form offers them, and whether someone may approve a request.

Membership of the user groups a policy names is asked of Slack (`usergroups.users.list`, through the
teams' cache of at most 5 minutes). When Slack cannot say, nothing is decided (`PolicyUnavailable`):
falling through to a later, laxer rule because Slack did not answer would fail open.

Without POLICY_FILE this is today's behaviour: one maximum (MAX_VALIDITY) for everyone, no approvals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.domain.durations import humanize_hours
from bot.domain.key_policy import (
    ADMINS,
    GROUP_ID,
    TEAM_OWNERS,
    Decision,
    KeyPolicy,
    Kind,
    Refused,
    Rule,
    Subject,
    decide_by,
    rule_for,
)
from bot.domain.policy import ValidityPolicy
from bot.identity import Denied, IdentityResolver
from bot.teams import GroupUnknown, Teams, describe_owners, mention_group, mention_user

log = logging.getLogger(__name__)
#: At most this many approvers are sent a request by DM (the others see it in `/apikey requests`).
MAX_APPROVER_DMS = 25


class PolicyUnavailable(Exception):
    """The rule that applies could not be found out now (Slack did not say who is in a user group)."""

    def __init__(self) -> None:
        super().__init__("I could not check your Slack user groups just now, so I cannot tell which key policy "
                         "applies to you. Nothing was changed; please try again in a minute.")


class Governance:
    def __init__(self, policy: KeyPolicy | None, *, base: ValidityPolicy, presets: Sequence[int],
                 teams: Teams, resolver: IdentityResolver, admins: frozenset[str]) -> None:
        self.policy = policy
        self._base = base  # today's form (VALIDITY_PRESETS up to MAX_VALIDITY), used as is without a policy
        self._presets = tuple(sorted(set(presets)))
        self._default = base.default
        self._teams = teams
        self._resolver = resolver
        self._admins = admins
        #: Without a policy file, the one rule today's settings make: MAX_VALIDITY, no approval.
        self._settings_rule = Rule("MAX_VALIDITY", max_hours=base.maximum)

    @property
    def enabled(self) -> bool:
        return self.policy is not None

    def widest(self) -> ValidityPolicy:
        """What any form may carry before the person's own rule is known: presets up to the longest validity
        any rule allows (a submission is decided again against the person's rule)."""
        if self.policy is None:
            return self._base
        return self._form(Rule("widest", max_hours=self.policy.longest()))

    def opening_form(self) -> ValidityPolicy:
        """The form drawn at once, before Slack is asked anything (the defaults' rule, which most people have)."""
        return self._form(self.policy.defaults) if self.policy is not None else self._base

    async def subject(self, slack_user_id: str) -> Subject:
        """The person and the policy's user groups they are in; PolicyUnavailable if Slack cannot say."""
        if self.policy is None:
            return Subject(slack_user_id)
        groups = set()
        for group in sorted(self.policy.groups_named()):
            try:
                if slack_user_id in await self._teams.group_members(group, strict=True):
                    groups.add(group)
            except GroupUnknown:
                raise PolicyUnavailable from None
        return Subject(slack_user_id, frozenset(groups))

    async def rule(self, slack_user_id: str, kind: Kind) -> Rule:
        if self.policy is None:
            return self._settings_rule
        return rule_for(self.policy, await self.subject(slack_user_id), kind)

    async def decide(self, slack_user_id: str, kind: Kind, hours: int) -> Decision:
        """Allowed, NeedsApproval or Refused for this person, kind of key and validity (PolicyUnavailable)."""
        return decide_by(await self.rule(slack_user_id, kind), hours)

    async def max_hours(self, slack_user_id: str, kind: Kind) -> int:
        """The longest validity this person may have for this kind of key, approved or not: what anything
        that makes keys on someone's behalf (a rotation's `every`) must stay within. PolicyUnavailable."""
        return (await self.rule(slack_user_id, kind)).max_hours

    async def form_policy(self, slack_user_id: str, kind: Kind) -> ValidityPolicy:
        if self.policy is None:
            return self._base
        return self._form(await self.rule(slack_user_id, kind))

    def _form(self, rule: Rule) -> ValidityPolicy:
        presets = tuple(h for h in self._presets if h <= rule.max_hours) or (rule.max_hours,)
        default = self._default if self._default <= rule.max_hours else presets[-1]
        approval = rule.approval_above if rule.approval_above is not None and rule.approval_above < rule.max_hours \
            else None
        return ValidityPolicy(presets=presets, default=default, maximum=rule.max_hours, approval_above=approval)

    # ---- approvers ---------------------------------------------------------------------------

    async def approver_ids(self, rule: Rule, *, requester: str, app_user_id: str | None) -> list[str]:
        """Everyone who may approve now (ids, each once; the requester only with self_approval); a user group
        Slack cannot read now adds nobody."""
        found: dict[str, None] = {}
        for spec in rule.approvers:
            if spec == ADMINS:
                found.update(dict.fromkeys(sorted(self._admins)))
            elif spec == TEAM_OWNERS:
                team = await self._teams.team_of(app_user_id) if app_user_id else None
                if team is not None:
                    found.update(dict.fromkeys(await self._teams.owners_of(team)))
            elif GROUP_ID.match(spec):
                found.update(dict.fromkeys(sorted(await self._teams.group_members(spec))))
            else:
                found[spec] = None
        if not rule.self_approval:
            found.pop(requester, None)
        return list(found)

    async def approvers_text(self, rule: Rule, *, app_user_id: str | None) -> str:
        """Who decides, as Slack shows it in a sentence: `<@U1> or <!subteam^S1>`."""
        parts: list[str] = []
        for spec in rule.approvers:
            if spec == ADMINS:
                parts += [mention_user(a) for a in sorted(self._admins)] or ["the platform admins"]
            elif spec == TEAM_OWNERS:
                team = await self._teams.team_of(app_user_id) if app_user_id else None
                parts.append(describe_owners(team) if team is not None else "the team's owners")
            elif GROUP_ID.match(spec):
                parts.append(mention_group(spec))
            else:
                parts.append(mention_user(spec))
        parts = list(dict.fromkeys(parts))
        if not parts:
            return "nobody"
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]

    async def is_approver(self, clicker: str, rule: Rule, *, app_user_id: str | None) -> bool:
        for spec in rule.approvers:
            if spec == ADMINS and clicker in self._admins:
                return True
            if spec == TEAM_OWNERS and app_user_id:
                team = await self._teams.team_of(app_user_id)
                if team is not None and await self._teams.is_owner(clicker, team):
                    return True
            if GROUP_ID.match(spec) and clicker in await self._teams.group_members(spec):
                return True
            if spec == clicker:
                return True
        return False

    async def may_approve(self, clicker: str, *, requester: str, kind: Kind, hours: int,
                          app_user_id: str | None, approve: bool = True) -> str | None:
        """None if `clicker` may decide this request now; else the sentence saying why not. Everything is
        checked at the click: the rule as it is now, the approver's standing, and who they are in DataOS."""
        try:
            rule = await self.rule(requester, kind)
        except PolicyUnavailable:
            return ("I could not check the Slack user groups the key policy names just now, so I cannot tell who "
                    "may decide this request. Nothing was changed; please try again in a minute.")
        if approve and isinstance(decide_by(rule, hours), Refused):
            return (f"The key policy no longer allows a key this long for this person (at most "
                    f"{humanize_hours(rule.max_hours)}), so this request cannot be approved. Nothing was created.")
        denied = await self._resolver.admission(clicker, allow_guests=False)
        if denied is not None:
            return denied.message
        if clicker == requester and not rule.self_approval:
            return "You asked for this key, and the key policy does not let anyone approve their own request."
        if not await self.is_approver(clicker, rule, app_user_id=app_user_id):
            who = await self.approvers_text(rule, app_user_id=app_user_id)
            return f"Only {who} may decide this request. Nothing was changed."
        if rule.approver_tag or rule.approver_self_link:
            identity = await self._resolver.resolve(clicker)
            if isinstance(identity, Denied):
                return ("The key policy accepts approvals only from people the bot maps to a DataOS user, and I "
                        "cannot map you: " + identity.message)
            if rule.approver_self_link and identity.how != "self link":
                return ("The key policy accepts approvals only from people who linked themselves with one of their "
                        "own DataOS keys (`/apikey link`). Nothing was changed.")
            if rule.approver_tag:
                user = await self._resolver.directory.get(identity.dataos_user_id)
                if user is None or rule.approver_tag not in user.tags:
                    return (f"The key policy accepts approvals only from DataOS users tagged `{rule.approver_tag}`, "
                            f"and your DataOS user is not. Nothing was changed.")
        return None
