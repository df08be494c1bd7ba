"""Identity links: who a Slack user acts as, and for a self-link, the key that proved it.

A self-link is a credential derived from the key that proved it: it records that key's keyed hash, name
and expiry (never the key), and the queries here end it when that key dies (revoked, gone, expired, or
reported by the leak watch). Every end is conditional on the row being the very link that was judged,
so a link made again meanwhile is never removed by a decision about the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, update

from bot.store.base import Repository
from bot.store.schema import IdentityLink, LeakReport


@dataclass(frozen=True)
class Proof:
    """The key that proved a self-link: a keyed hash of it, its name and its expiry."""

    fingerprint: str
    key_name: str
    expiration: datetime


@dataclass(frozen=True)
class Link:
    slack_user_id: str
    dataos_user_id: str
    method: str
    linked_by: str
    created_at: datetime
    proof_fingerprint: str | None = None
    proof_key_name: str | None = None
    proof_expiration: datetime | None = None
    proof_checked_at: datetime | None = None

    @property
    def proof(self) -> Proof | None:
        if self.proof_fingerprint and self.proof_key_name and self.proof_expiration:
            return Proof(self.proof_fingerprint, self.proof_key_name, self.proof_expiration)
        return None


class Links(Repository):
    """Identity links, and whether the key that proved one was reported leaked."""

    async def get_link(self, slack_user_id: str) -> Link | None:
        async with self.session() as s:
            row = await s.get(IdentityLink, slack_user_id)
            return _link(row) if row else None

    async def set_link(self, slack_user_id: str, dataos_user_id: str, *, method: str, linked_by: str,
                       now: datetime, proof: Proof | None = None) -> None:
        values = {
            "slack_user_id": slack_user_id, "dataos_user_id": dataos_user_id,
            "method": method, "linked_by": linked_by, "created_at": now,
            "proof_fingerprint": proof.fingerprint if proof else None,
            "proof_key_name": proof.key_name[:255] if proof else None,
            "proof_expiration": proof.expiration if proof else None,
            "proof_checked_at": now if proof else None,
        }
        stmt = self._insert(IdentityLink).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[IdentityLink.slack_user_id],
            set_={k: v for k, v in values.items() if k != "slack_user_id"},
        )
        async with self.session() as s, s.begin():
            await s.execute(stmt)

    async def delete_link(self, slack_user_id: str) -> bool:
        async with self.session() as s, s.begin():
            result = await s.execute(delete(IdentityLink).where(IdentityLink.slack_user_id == slack_user_id))
            return bool(getattr(result, "rowcount", 0))

    async def end_link(self, link: Link) -> bool:
        """Remove `link` only if the row is still that link (same user, target, how and when made)."""
        async with self.session() as s, s.begin():
            result = await s.execute(delete(IdentityLink).where(*_same(link)))
            return bool(getattr(result, "rowcount", 0))

    async def end_links_proven_by(self, *, dataos_user_id: str | None = None, key_name: str | None = None,
                                  fingerprint: str | None = None) -> list[Link]:
        """End every self-link proven by one key, named by owner and name, or by its keyed hash; returns
        the links ended. A key's name is unique per owner while it lives, so a deleted key of that name is
        either the proving key or proof that the proving key is gone already: either way the link ends."""
        if fingerprint is not None:
            where = [IdentityLink.proof_fingerprint == fingerprint]
        elif dataos_user_id is not None and key_name is not None:
            where = [IdentityLink.dataos_user_id == dataos_user_id, IdentityLink.proof_key_name == key_name[:255]]
        else:
            raise ValueError("name the key by owner and name, or by fingerprint")
        ended: list[Link] = []
        async with self.session() as s, s.begin():
            rows = (await s.scalars(select(IdentityLink).where(IdentityLink.method == "self", *where))).all()
            for row in rows:
                link = _link(row)
                result = await s.execute(delete(IdentityLink).where(*_same(link)))
                if getattr(result, "rowcount", 0):
                    ended.append(link)
        return ended

    async def proof_confirmed(self, link: Link, at: datetime) -> None:
        async with self.session() as s, s.begin():
            await s.execute(update(IdentityLink).where(*_same(link)).values(proof_checked_at=at))

    async def key_reported_leaked(self, fingerprint: str) -> bool:
        """Has the leak watch seen this key (by its keyed hash) pasted where others could read it?"""
        async with self.session() as s:
            return await s.get(LeakReport, fingerprint) is not None

    async def links(self) -> list[Link]:
        async with self.session() as s:
            rows = (await s.scalars(select(IdentityLink))).all()
            return [_link(r) for r in rows]

    async def links_to(self, dataos_user_id: str) -> list[Link]:
        """Every explicit link to one DataOS user."""
        async with self.session() as s:
            rows = (await s.scalars(select(IdentityLink).where(IdentityLink.dataos_user_id == dataos_user_id))).all()
            return [_link(r) for r in rows]


def _same(link: Link) -> list[Any]:
    fingerprint = (IdentityLink.proof_fingerprint == link.proof_fingerprint if link.proof_fingerprint
                   else IdentityLink.proof_fingerprint.is_(None))
    return [IdentityLink.slack_user_id == link.slack_user_id, IdentityLink.dataos_user_id == link.dataos_user_id,
            IdentityLink.method == link.method, and_(IdentityLink.created_at == link.created_at, fingerprint)]


def _link(row: IdentityLink) -> Link:
    return Link(row.slack_user_id, row.dataos_user_id, row.method, row.linked_by, row.created_at,
                row.proof_fingerprint, row.proof_key_name, row.proof_expiration, row.proof_checked_at)
