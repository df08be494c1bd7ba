"""The governance parts of the runtime (issue #28), put together in one place so that `bot.app` holds one
line for them: the key policy read from POLICY_FILE (a broken one raises ConfigError), who it applies to
now (`Governance`), approval requests and their service, and the notices' records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.approvals.delivery import KeyMaker
from bot.approvals.service import ApprovalService
from bot.audit import AuditTrail
from bot.config import Settings
from bot.domain.key_policy import KeyPolicy
from bot.domain.policy import ValidityPolicy
from bot.identity import IdentityResolver
from bot.policy import Governance, policy_of
from bot.service import KeyService
from bot.store import ScheduledRevocations
from bot.store.approvals import Approvals
from bot.store.notices import Notices
from bot.teams import Teams


@dataclass(frozen=True)
class GovernanceParts:
    key_policy: KeyPolicy | None
    governance: Governance
    approval_requests: Approvals
    approvals: ApprovalService
    notices: Notices


def governance_parts(settings: Settings, *, engine: AsyncEngine, base: ValidityPolicy, teams: Teams,
                     resolver: IdentityResolver, admins: frozenset[str], keys: KeyService,
                     revocations: ScheduledRevocations, trail: AuditTrail,
                     clock: Callable[[], datetime]) -> GovernanceParts:
    """`base` is today's form (VALIDITY_PRESETS up to MAX_VALIDITY), which applies as is without a policy."""
    key_policy = policy_of(settings)
    governance = Governance(key_policy, base=base, presets=settings.all_preset_hours, teams=teams, resolver=resolver,
                            admins=admins)
    requests = Approvals(engine)
    maker = KeyMaker(requests, keys, resolver, revocations, trail, clock)
    return GovernanceParts(key_policy, governance, requests, ApprovalService(requests, governance, maker, trail, clock),
                           Notices(engine))
