"""Heimdall (DataOS identity service) client: the only place the bot calls DataOS."""

from bot.dataos.client import HeimdallClient
from bot.dataos.errors import (
    DataOSBadRequest,
    DataOSConflict,
    DataOSError,
    DataOSForbidden,
    DataOSNotFound,
    DataOSTooLarge,
    DataOSUnauthorized,
    DataOSUnavailable,
)
from bot.dataos.models import AuthorizeResult, Token, User

__all__ = [
    "AuthorizeResult",
    "DataOSBadRequest",
    "DataOSConflict",
    "DataOSError",
    "DataOSForbidden",
    "DataOSNotFound",
    "DataOSTooLarge",
    "DataOSUnauthorized",
    "DataOSUnavailable",
    "HeimdallClient",
    "Token",
    "User",
]
