"""The few exception types the Slack side turns into sentences.

Messages never contain a response body or a key: Heimdall's error body is undocumented and might echo
what we sent. Each carries the HTTP status (if any) and the correlation id, for support.
"""

from __future__ import annotations


class DataOSError(Exception):
    """Base class. `changed` says whether DataOS may have applied the request (None: unknown)."""

    default_message = "DataOS returned an error."

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        correlation_id: str | None = None,
        changed: bool | None = False,
        cause: str | None = None,
    ) -> None:
        super().__init__(message or self.default_message)
        self.status = status
        self.correlation_id = correlation_id
        self.changed = changed
        #: For operators' logs: the network error underneath (`ClientConnectorDNSError: Cannot connect to…`).
        self.cause = cause


class DataOSBadRequest(DataOSError):
    default_message = "DataOS rejected the request as invalid (bad name or validity)."


class DataOSUnauthorized(DataOSError):
    default_message = "DataOS did not accept the bot's own API key (missing, unknown or expired)."


class DataOSForbidden(DataOSError):
    default_message = "The bot's DataOS key lacks the right to manage this user's keys."


class DataOSNotFound(DataOSError):
    default_message = "DataOS has no such user or key."


class DataOSConflict(DataOSError):
    default_message = "A key with that name already exists."


class DataOSUnavailable(DataOSError):
    """Timeouts, connection failures, 429 and 5xx: transient, worth trying again later."""

    default_message = "DataOS did not answer in time or is unavailable."


class DataOSTooLarge(DataOSError):
    """An answer past DATAOS_MAX_RESPONSE_MB: not read at all."""

    default_message = "DataOS sent an answer larger than the bot accepts, so it was not read."


def error_for_status(status: int, correlation_id: str, *, changed: bool | None = False) -> DataOSError:
    kinds: dict[int, type[DataOSError]] = {
        400: DataOSBadRequest,
        401: DataOSUnauthorized,
        403: DataOSForbidden,
        404: DataOSNotFound,
        409: DataOSConflict,
    }
    kind = kinds.get(status)
    if kind is None:
        kind = DataOSUnavailable if status == 429 or status >= 500 else DataOSError
    return kind(status=status, correlation_id=correlation_id, changed=changed)
