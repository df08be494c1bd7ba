"""What the secret store gives back, and how the bot logs in to it. No HTTP here: the client that speaks
to Vault (`bot.vault.client`, over hvac) is loaded only when a store is configured."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from pydantic import SecretStr

#: Where Kubernetes mounts a pod's service-account token.
K8S_TOKEN_PATH = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


@dataclass(frozen=True)
class VaultAuth:
    """How the bot gets its Vault token: given (`token`), or by logging in with AppRole or Kubernetes."""

    method: Literal["token", "approle", "kubernetes"]
    token: SecretStr | None = None
    role_id: str | None = None
    secret_id: SecretStr | None = None
    k8s_role: str | None = None
    k8s_token_path: Path = K8S_TOKEN_PATH
    approle_mount: str = "approle"
    k8s_mount: str = "kubernetes"


@dataclass(frozen=True)
class SecretVersion:
    """One version of a KV v2 secret. Every value is a `SecretStr`: a field beside the key may be a secret
    of someone else's, and nothing read from the store is ever shown or logged."""

    version: int
    data: dict[str, SecretStr] = field(repr=False)
    created_time: str | None = None
    destroyed: bool = False

    def get(self, name: str) -> SecretStr | None:
        return self.data.get(name)


@dataclass(frozen=True)
class TokenInfo:
    """The bot's token as `auth/token/lookup-self` describes it (never the token itself)."""

    ttl: int  # seconds left; 0 for a token that never expires (root)
    renewable: bool
    creation_ttl: int
    policies: tuple[str, ...]
    accessor: str | None
    last_renewal_time: int | None


class SecretStore(Protocol):
    """The KV v2 calls a rotation makes (`bot.vault.client.VaultClient`; a test may stand in its own)."""

    async def read(self, mount: str, path: str, version: int | None = None) -> SecretVersion | None: ...

    async def current_version(self, mount: str, path: str) -> int: ...

    async def write(self, mount: str, path: str, data: dict[str, SecretStr], *, cas: int) -> int: ...

    async def capabilities(self, paths: list[str]) -> dict[str, tuple[str, ...]]: ...

    async def lookup_self(self) -> TokenInfo: ...
