"""The organisation's secret store: HashiCorp Vault's KV version 2 API (OpenBao serves it the same way).

`types` and `errors` are light and imported anywhere; `client` (hvac, over requests, run in a thread) is
loaded only when VAULT_ADDR is set, so a bot without a store pays nothing for it at start-up.
"""

from bot.vault.errors import (
    VaultAuthFailed,
    VaultBadRequest,
    VaultCasConflict,
    VaultError,
    VaultForbidden,
    VaultNotFound,
    VaultUnavailable,
)
from bot.vault.types import K8S_TOKEN_PATH, SecretStore, SecretVersion, TokenInfo, VaultAuth

__all__ = [
    "K8S_TOKEN_PATH", "SecretStore", "SecretVersion", "TokenInfo", "VaultAuth", "VaultAuthFailed",
    "VaultBadRequest", "VaultCasConflict", "VaultError", "VaultForbidden", "VaultNotFound", "VaultUnavailable",
]
