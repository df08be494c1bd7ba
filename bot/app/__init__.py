"""The runtime (`runtime.Runtime`): one object that owns the HTTP clients, the database engine and the
services, created at start-up and closed at shutdown; listeners receive it and never build clients of their own."""

from bot.app.runtime import NOT_CHECKED, Runtime

__all__ = ["NOT_CHECKED", "Runtime"]
