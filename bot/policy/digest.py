"""The security team's digest (issue #28): what the key policy and the notices found, as counts with the
worst few named. Gathered from the bot's own records (keys seen, requests, notices) and, for application
users no team owns, one listing each from DataOS. Shown weekly in DIGEST_CHANNEL (or AUDIT_CHANNEL) by
`bot.reminders.governance`, and now by `/apikey admin digest`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.audience import Recipient, SlackDirectory, build_audience
from bot.dataos import DataOSError, HeimdallClient
from bot.identity import DataOSDirectory
from bot.policy.governance import Governance, PolicyUnavailable
from bot.store import KeySightings, Links, Sighting
from bot.store.approvals import Approvals, Request
from bot.store.notices import Notice, Notices
from bot.teams import Teams

#: How many of each finding are named; the rest are counted.
WORST = 5
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class LongKey:
    owner: str  # DataOS user
    name: str
    expiration: datetime
    at_least_hours: int  # the key lives at least this long (it existed when first seen)
    allowed_hours: int


@dataclass(frozen=True)
class UntiedKey:
    app_user_id: str
    name: str
    expiration: datetime


@dataclass
class Digest:
    since: datetime
    now: datetime
    long_keys: list[LongKey] = field(default_factory=list)
    untied: list[UntiedKey] = field(default_factory=list)
    open_requests: list[Request] = field(default_factory=list)
    denied: list[Request] = field(default_factory=list)
    unanswered: list[Notice] = field(default_factory=list)
    unanswered_count: int = 0
    problems: list[str] = field(default_factory=list)


class _Keys(Protocol):
    async def operator_user_id(self) -> str | None: ...


class Sources(Protocol):
    """What a digest reads (the runtime has each of these)."""

    @property
    def governance(self) -> Governance: ...

    @property
    def sightings(self) -> KeySightings: ...

    @property
    def approval_requests(self) -> Approvals: ...

    @property
    def notices(self) -> Notices: ...

    @property
    def directory(self) -> DataOSDirectory: ...

    @property
    def dataos(self) -> HeimdallClient: ...

    @property
    def slack_directory(self) -> SlackDirectory: ...

    @property
    def links(self) -> Links: ...

    @property
    def teams(self) -> Teams: ...

    @property
    def keys(self) -> _Keys: ...


async def gather(sources: Sources, now: datetime) -> Digest:
    digest = Digest(since=now - WEEK, now=now)
    state = await sources.sightings.load_reminder_state(since=now)
    teams = {t.app_user_id for t in await sources.teams.all()}
    people = build_audience(sources.directory.persons(), await sources.slack_directory.members(),
                            await sources.links.links(), disabled=set())
    digest.long_keys = await _long_keys(sources, list(state.sightings.values()), people, teams, now, digest)
    operator = await sources.keys.operator_user_id()
    for app in sources.directory.applications():
        if app.id in teams or app.id == operator:
            continue
        try:
            tokens = await sources.dataos.list_tokens(app.id)
        except DataOSError as exc:
            digest.problems.append(f"the keys of `{app.id}` could not be listed ({type(exc).__name__})")
            continue
        digest.untied += [UntiedKey(app.id, t.name, t.expiration) for t in tokens if t.expiration > now]
    digest.untied.sort(key=lambda k: (-(k.expiration - now).total_seconds(), k.app_user_id, k.name))
    digest.open_requests = await sources.approval_requests.open_requests()
    digest.denied = await sources.approval_requests.decided_since(digest.since, "denied")
    digest.unanswered_count = await sources.notices.open_count(now)
    digest.unanswered = await sources.notices.open_notices(now, limit=WORST)
    return digest


async def _long_keys(sources: Sources, sightings: Sequence[Sighting], people: list[Recipient], teams: set[str],
                     now: datetime, digest: Digest) -> list[LongKey]:
    """Keys made outside the bot that live longer than the rule of their owner allows. A key lives at least
    from when it was first seen to its expiry; that is what is compared (never an overestimate)."""
    slack_of = {r.dataos_user_id: r.slack.user_id for r in people}
    policy = sources.governance.policy
    found: list[LongKey] = []
    maxima: dict[str, int] = {}
    for sighting in sightings:
        if sighting.created_at is not None:
            continue  # the bot made it, within the rule of whoever asked
        owner = sighting.dataos_user_id
        if owner not in maxima:
            try:
                if owner in slack_of:
                    maxima[owner] = await sources.governance.max_hours(slack_of[owner], "personal")
                elif owner in teams:
                    # a team's key: the longest any rule lets anyone make for a team
                    maxima[owner] = (max(r.max_hours for r in policy.all_rules() if r.covers("team"))
                                     if policy is not None else (await sources.governance.rule("", "team")).max_hours)
                else:
                    continue
            except PolicyUnavailable:
                digest.problems.append("Slack did not say who is in the policy's user groups; some keys were not "
                                       "checked against their rule")
                maxima[owner] = 10**9
        at_least = int((sighting.expiration - sighting.first_seen).total_seconds() // 3600)
        if at_least > maxima[owner]:
            found.append(LongKey(owner, sighting.key_name, sighting.expiration, at_least, maxima[owner]))
    found.sort(key=lambda k: (k.allowed_hours - k.at_least_hours, k.owner, k.name))
    return found

