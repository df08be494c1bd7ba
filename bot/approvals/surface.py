"""What the approval service needs from wherever people see requests (Slack: `bot.slack.approvals.surface`),
and what it hands to callers. The service decides and records; the surface only shows and delivers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.dataos import Token
from bot.domain.key_policy import Kind
from bot.store.approvals import Posted, Request

#: What the requester is told, by a DM that Slack keeps (never the key: that goes privately, `deliver`).
Event = Literal["approved", "denied", "expired", "delivered", "undelivered", "not made", "cancelled"]
Delivered = Literal["delivered", "failed", "unknown"]


@dataclass(frozen=True)
class Renewal:
    """A renewal that needs approval: the old key exactly, and what becomes of it once the new key exists
    (`now`, `keep`, or `in:<hours>`)."""

    name: str
    expiration: datetime
    choice: str


@dataclass(frozen=True)
class Ask:
    """A key someone asks for that needs approval. `dataos_user_id` is whose key it is: the requester's own
    DataOS user (kind "personal") or the application user they own (kind "team"); it is checked again
    before the key is made. `origin` and `origin_ref` name the caller (a workflow step and its execution),
    whose subscriber is told the outcome (`ApprovalService.on_outcome`)."""

    requester: str
    kind: Kind
    dataos_user_id: str
    hours: int
    reason: str
    key_name: str | None = None
    origin: str = "slack"
    origin_ref: str | None = None
    renew: Renewal | None = None


@dataclass(frozen=True)
class Opened:
    request: Request
    #: Who decides, as Slack shows it in a sentence (`<@U1> or <!subteam^S1>`).
    deciders: str
    #: Where the request went: the approval channel, or how many approvers got it by DM.
    channel: str | None
    approvers_told: int


class Surface(Protocol):
    async def post(self, request: Request, *, approvers: list[str], deciders: str,
                   reminder: bool = False) -> list[Posted]:
        """Post the request (with Approve and Deny) to the approval channel, or else to each approver by DM;
        return where each message landed (empty: nobody could be reached)."""

    async def refresh(self, request: Request, posted: list[Posted]) -> None:
        """Update each posted message in place to say what became of the request (its state now)."""

    async def tell_requester(self, request: Request, event: Event, detail: str | None = None) -> None:
        """A DM to the requester about their request (never the key)."""

    async def deliver(self, request: Request, token: Token) -> Delivered:
        """The new key, privately to the requester only (ephemeral in their DM with the bot)."""

    async def owner_refusal(self, request: Request) -> str | None:
        """For a team key: None while the requester may act for its application user now (the bot's one owner
        check), else the sentence saying why not."""

    async def tell_team(self, request: Request, token: Token) -> None:
        """A team key was made: the team channel reads who asked, who approved and which key, never the key."""
