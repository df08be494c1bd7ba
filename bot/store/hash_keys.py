"""The key of the bot's keyed hash (leak reports, self-link proofs), kept once in the database.

Earlier versions derived it from DATAOS_APIKEY at every start, so rotating that key changed every hash
and nothing recorded matched any more. Now the first start stores the key it derived (the same value
as before, so an upgraded install's hashes still match) and every later start, on every replica, reads
it back whatever DATAOS_APIKEY is then. It is not a credential: it only lets the bot recognise a key it
is shown again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from pydantic import SecretStr

from bot.store.base import Repository
from bot.store.schema import HashKey


def first_key(operator: SecretStr | None) -> bytes:
    """What an install's first start keeps: derived from its operator key as earlier versions derived it at
    every start (so their hashes still match); random when the operator key comes from the store
    (DATAOS_APIKEY_FROM: no earlier hashes to match)."""
    if operator is None:
        return secrets.token_bytes(32)
    return hmac.new(operator.get_secret_value().encode(), b"apikey-bot leak watch", hashlib.sha256).digest()


class HashKeys(Repository):
    async def get_or_create(self, name: str, value: bytes, *, now: datetime) -> bytes:
        """The key kept as `name`, storing `value` if there is none yet. Replicas starting together each try
        the insert; the first one wins and everyone reads back what was kept."""
        async with self.session() as s, s.begin():
            await s.execute(self._insert(HashKey).values(name=name, value=value.hex(), created_at=now)
                            .on_conflict_do_nothing())
        async with self.session() as s:
            row = await s.get(HashKey, name)
        if row is None:  # only if the row was deleted between the two statements
            raise RuntimeError(f"the hash key {name} could not be stored")
        return bytes.fromhex(row.value)
