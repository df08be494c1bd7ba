"""The one line start-up logs when DataOS or Slack cannot be reached: where (without a password in the URL)
and why."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from bot.dataos import DataOSError, DataOSUnavailable


def unreachable(what: str, url: str, exc: BaseException) -> str:
    """`DataOS at https://… cannot be reached (ClientConnectorDNSError: …)`, without any password in the URL."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        parts = parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host)
    shown_url = urlunsplit(parts)
    cause = getattr(exc, "cause", None) or (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if isinstance(exc, DataOSError) and not isinstance(exc, DataOSUnavailable):
        return f"{what} at {shown_url} answered with an error ({type(exc).__name__}: {exc})"
    return f"{what} at {shown_url} cannot be reached ({cause})"
