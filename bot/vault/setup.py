"""The store the settings describe: how the bot logs in, and the client (loaded only when VAULT_ADDR is set:
hvac and requests cost start-up time that a bot without a store should not pay)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from pydantic import SecretStr

from bot.domain.rotation import parse_target
from bot.vault.operator import OperatorKey
from bot.vault.types import VaultAuth

if TYPE_CHECKING:
    from bot.vault.client import VaultClient


class VaultSettings(Protocol):
    """The settings this module reads (`bot.config.Settings` has them)."""

    vault_addr: str | None
    vault_token: SecretStr | None
    vault_role_id: str | None
    vault_secret_id: SecretStr | None
    vault_k8s_role: str | None
    vault_namespace: str | None
    vault_cacert: str | None
    dataos_timeout_seconds: float


def vault_auth(settings: VaultSettings) -> VaultAuth:
    """Exactly one way to log in (`Settings` checks that): a token, AppRole, or Kubernetes."""
    if settings.vault_token is not None:
        return VaultAuth("token", token=settings.vault_token)
    if settings.vault_role_id is not None:
        return VaultAuth("approle", role_id=settings.vault_role_id, secret_id=settings.vault_secret_id)
    return VaultAuth("kubernetes", k8s_role=settings.vault_k8s_role)


def make_store(settings: VaultSettings) -> VaultClient | None:
    if not settings.vault_addr:
        return None
    from bot.vault.client import VaultClient  # noqa: PLC0415 (deferred for start-up: hvac and requests)

    return VaultClient(settings.vault_addr, vault_auth(settings), namespace=settings.vault_namespace,
                       cacert=settings.vault_cacert, timeout=settings.dataos_timeout_seconds)


def make_operator(store: VaultClient | None, source: str | None, on_change: Callable[[SecretStr], None],
                  monotonic: Callable[[], float]) -> OperatorKey | None:
    """Where the operator key comes from with DATAOS_APIKEY_FROM (read at start, re-read on a timer or a 401)."""
    if store is None or not source:
        return None
    return OperatorKey(store, parse_target(source), on_change, monotonic=monotonic)
