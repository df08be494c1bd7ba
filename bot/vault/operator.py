"""The bot's own DataOS key, read from the store (DATAOS_APIKEY_FROM): at start-up, and again when DataOS
refuses it or on a timer, so that every replica picks up a rotated key without a restart."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from pydantic import SecretStr

from bot.domain.rotation import VaultTarget
from bot.vault.errors import VaultError
from bot.vault.types import SecretStore

log = logging.getLogger(__name__)


class OperatorKeyUnavailable(Exception):
    """DATAOS_APIKEY_FROM cannot be read; the message is one line for the operator."""


class OperatorKey:
    def __init__(self, store: SecretStore, target: VaultTarget, on_change: Callable[[SecretStr], None], *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.target = target
        self._on_change = on_change
        self._monotonic = monotonic
        self._current = ""
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def load(self) -> bool:
        """Read the key; True if it differs from the one in use (then `on_change` was told)."""
        target = self.target
        try:
            version = await self.store.read(target.mount, target.path)
        except VaultError as exc:
            raise OperatorKeyUnavailable(f"the bot's DataOS key cannot be read from {target} ({exc})") from None
        value = version.get(target.field) if version is not None else None
        if value is None or not value.get_secret_value():
            raise OperatorKeyUnavailable(f"{target} holds no key in field {target.field!r}; put the bot's DataOS "
                                         "key there, or set DATAOS_APIKEY instead")
        self._read_at = self._monotonic()
        if value.get_secret_value() == self._current:
            return False
        self._current = value.get_secret_value()
        self._on_change(value)
        return True

    @property
    def current(self) -> str:
        """The key last read (for `apikey-bot doctor`, which checks it with DataOS)."""
        return self._current

    def used(self, key: SecretStr) -> None:
        """The bot switched to `key` itself (it rotated it): not a change to report again."""
        self._current = key.get_secret_value()

    async def refresh(self, *, min_interval: float = 10.0) -> bool:
        """Read again (DataOS refused the key, or the timer): True if it changed. At most once per
        `min_interval` seconds, however many calls were refused together; a store that is down leaves the
        key in use as it is."""
        async with self._lock:
            if self._read_at is not None and self._monotonic() - self._read_at < min_interval:
                return False
            try:
                changed = await self.load()
            except OperatorKeyUnavailable as exc:
                log.warning("%s; the bot goes on with the key it has", exc)
                self._read_at = self._monotonic()
                return False
            if changed:
                log.info("the bot's DataOS key was rotated; this replica uses the new one from now on")
            return changed
