"""Keys minted through a self-link: created, renewed or revealed by someone acting as a DataOS user because
they proved it with a key. Such a key is derived from that proving key and dies with it.

A row names the minted key exactly (owner, name, expiry; never the key) and the proving key (keyed hash,
name, expiry). Rows are claimed (`revoking`) before the bot revokes their key, one replica each, and
the outcome is recorded after; a claim left by a process that died is taken again after `STALE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update

from bot.store.base import Repository
from bot.store.links import Proof
from bot.store.schema import MintedKey

#: A claim older than this is taken again (its process stopped before recording what it did).
STALE = timedelta(minutes=10)


@dataclass(frozen=True)
class Minted:
    dataos_user_id: str
    key_name: str
    key_expiration: datetime
    proof: Proof
    slack_user_id: str
    how: str
    state: str


def _minted(row: MintedKey) -> Minted:
    return Minted(row.dataos_user_id, row.key_name, row.key_expiration,
                  Proof(row.proof_fingerprint, row.proof_key_name, row.proof_expiration), row.slack_user_id, row.how,
                  row.state)


def _pk(m: Minted) -> list[Any]:
    return [MintedKey.dataos_user_id == m.dataos_user_id, MintedKey.key_name == m.key_name,
            MintedKey.key_expiration == m.key_expiration, MintedKey.proof_fingerprint == m.proof.fingerprint]


def _takeable(now: datetime) -> Any:
    return or_(MintedKey.state == "live", and_(MintedKey.state == "revoking", MintedKey.ended_at < now - STALE))


class MintedKeys(Repository):
    async def record(self, dataos_user_id: str, key_name: str, key_expiration: datetime, proof: Proof, *,
                     slack_user_id: str, how: str, now: datetime) -> None:
        stmt = self._insert(MintedKey).values(
            dataos_user_id=dataos_user_id, key_name=key_name, key_expiration=key_expiration,
            proof_fingerprint=proof.fingerprint, proof_key_name=proof.key_name, proof_expiration=proof.expiration,
            slack_user_id=slack_user_id, how=how, state="live", recorded_at=now)
        async with self.session() as s, s.begin():
            await s.execute(stmt.on_conflict_do_nothing())

    async def is_minted(self, dataos_user_id: str, key_name: str, key_expiration: datetime) -> bool:
        """Was this exact key minted through a self-link (whatever became of it since)?"""
        async with self.session() as s:
            found = await s.scalar(select(MintedKey.state).where(
                MintedKey.dataos_user_id == dataos_user_id, MintedKey.key_name == key_name,
                MintedKey.key_expiration == key_expiration).limit(1))
            return found is not None

    async def claim(self, *, now: datetime, fingerprint: str | None = None, dataos_user_id: str | None = None,
                    proof_key_name: str | None = None) -> list[Minted]:
        """Claim the live keys minted through the proving key named by its keyed hash, or by its owner and
        name; each row goes to one caller only."""
        if fingerprint is not None:
            where = [MintedKey.proof_fingerprint == fingerprint]
        elif dataos_user_id is not None and proof_key_name is not None:
            where = [MintedKey.dataos_user_id == dataos_user_id, MintedKey.proof_key_name == proof_key_name]
        else:
            raise ValueError("name the proving key by keyed hash, or by owner and name")
        claimed: list[Minted] = []
        async with self.session() as s, s.begin():
            rows = (await s.scalars(select(MintedKey).where(_takeable(now), *where)
                                    .order_by(MintedKey.dataos_user_id, MintedKey.key_name))).all()
            for row in rows:
                found = _minted(row)
                taken = await s.execute(update(MintedKey).where(*_pk(found), _takeable(now))
                                        .values(state="revoking", ended_at=now))
                if getattr(taken, "rowcount", 0):
                    claimed.append(found)
        return claimed

    async def finish(self, minted: Minted, state: str, *, now: datetime) -> None:
        """What became of a claimed key: `revoked`, `gone`, `changed`; `live` again if DataOS could not say."""
        async with self.session() as s, s.begin():
            await s.execute(update(MintedKey).where(*_pk(minted)).values(
                state=state, ended_at=None if state == "live" else now))

    async def keep(self, fingerprint: str, *, now: datetime) -> int:
        """The proving key expired (or the link ended by its own course): its keys stay, still unable to prove
        a link."""
        async with self.session() as s, s.begin():
            result = await s.execute(update(MintedKey).where(MintedKey.proof_fingerprint == fingerprint,
                                                             MintedKey.state == "live")
                                     .values(state="kept", ended_at=now))
            return int(getattr(result, "rowcount", 0) or 0)

    async def live_proofs(self, *, now: datetime) -> list[tuple[str, Proof]]:
        """Each proving key (with its owner) that still has live keys minted through it."""
        async with self.session() as s:
            rows = (await s.execute(select(MintedKey.dataos_user_id, MintedKey.proof_fingerprint,
                                           MintedKey.proof_key_name, MintedKey.proof_expiration)
                                    .where(_takeable(now)).distinct())).all()
        return [(str(r[0]), Proof(str(r[1]), str(r[2]), r[3])) for r in rows]

    async def prune(self, *, older_than: datetime) -> int:
        """Rows of keys that expired before `older_than`: an expired key proves nothing and cannot be revoked."""
        async with self.session() as s, s.begin():
            result = await s.execute(delete(MintedKey).where(MintedKey.key_expiration < older_than))
            return int(getattr(result, "rowcount", 0) or 0)
