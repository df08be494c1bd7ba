"""What can go wrong with the secret store, as sentences (never a Vault answer's body, which may carry a
secret, and never the token)."""

from __future__ import annotations


class VaultError(Exception):
    """The store refused or failed. `changed`: False when nothing was written, None when unknown.
    `needs_person`: retrying cannot help (a permission, a missing mount, a refused login)."""

    needs_person = False

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None,
                 changed: bool | None = False, cause: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.path = path
        self.changed = changed
        #: Vault's own error words (from its `errors` list, capped), or the connection error's class: for logs.
        self.cause = cause


class VaultUnavailable(VaultError):
    """Not reachable, timed out, sealed, or a 5xx/429: worth trying again later."""


class VaultForbidden(VaultError):
    """403: the bot's token may not do this on that path (the message names the policy it needs)."""

    needs_person = True


class VaultNotFound(VaultError):
    """404: no such secret, version or mount."""


class VaultCasConflict(VaultError):
    """The check-and-set version did not match: someone else wrote the secret since the bot read it."""


class VaultBadRequest(VaultError):
    """400 for another reason than check-and-set (for example a mount that is not KV version 2)."""

    needs_person = True


class VaultAuthFailed(VaultError):
    """The bot could not log in (token refused, AppRole or Kubernetes login refused, no token file)."""

    needs_person = True
