"""Logging set-up: console or JSON, always through a redaction filter.

Redaction is the last line of defence, not the plan: the code never logs secrets on purpose. Anything
shaped like a DataOS key (base64 of `<name>.<uuid>`) or a Slack token is masked in the message, its
arguments and any formatted traceback before a handler writes it.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX = rb"[0-9a-fA-F]"
_KEY_PREFIX = re.compile(rb"[A-Za-z0-9_]+\." + _HEX + rb"{8}-(?:" + _HEX + rb"{4}-){3}" + _HEX + rb"{12}")
_SLACK_TOKEN = re.compile(r"\b(xox[abposre]|xapp|xwfp)-[A-Za-z0-9-]{6,}")  # xwfp: a workflow step's token
REDACTED_KEY = "[REDACTED-DATAOS-KEY]"
REDACTED_TOKEN = "[REDACTED-SLACK-TOKEN]"  # noqa: S105 (a placeholder, not a password)
#: The first base64 character of a key name's first character (A-Z, a-z, 0-9, _), in either alphabet.
_NAME_START = frozenset("MNOPQRSTUVWXYZabcde")
#: A key's base64 is at least 51 characters without padding and at most 392.
_KEY_MIN, _KEY_MAX = 51, 392
#: Places in one run tried as the start of a key (after `/`, `_`, `-`): a long path stays cheap.
_MAX_STARTS = 64

#: Per-request context (Slack request id, DataOS correlation id) added to every record.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def _key_length_at(run: str, start: int) -> int:
    """How many characters of `run` from `start` are a DataOS key (either base64 alphabet, padding
    optional, followed by anything); 0 if none starts there."""
    body = run[start:start + _KEY_MAX + 2]
    stripped = body.rstrip("=")
    whole = len(stripped) - len(stripped) % 4
    rest = stripped[whole:]
    for alphabet in (None, b"-_"):
        try:
            decoded = base64.b64decode(stripped[:whole], altchars=alphabet, validate=True)
            if len(rest) >= 2:
                decoded += base64.b64decode(rest + "=" * (4 - len(rest)), altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
        match = _KEY_PREFIX.match(decoded)
        if match is None:
            continue
        encoded = base64.b64encode(match.group(), altchars=alphabet).decode("ascii").rstrip("=")
        if body.startswith(encoded):
            end = len(encoded)
            while end < len(body) and body[end] == "=":
                end += 1
            return end
    return 0


def _mask_run(run: str) -> str:
    """`run` with every DataOS key in it masked: the whole run, or a key glued after `/`, `_` or `-`
    (a URL path segment, `token_<key>`, `x-<key>`), which belongs to the same run of characters."""
    starts = [0] + [i + 1 for i, c in enumerate(run) if c in "/_-"]
    out: list[str] = []
    done = tried = 0
    for start in starts:
        if start < done or len(run) - start < _KEY_MIN or run[start] not in _NAME_START:
            continue
        tried += 1
        if tried > _MAX_STARTS:
            break
        length = _key_length_at(run, start)
        if length:
            out += [run[done:start], REDACTED_KEY]
            done = start + length
    return "".join(out) + run[done:] if out else run


def redact(text: str) -> str:
    """Mask DataOS keys and Slack tokens in `text`."""
    text = _SLACK_TOKEN.sub(REDACTED_TOKEN, text)
    return _B64_RUN.sub(lambda m: _mask_run(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """Freezes the message with its arguments, redacted, so no handler can see the raw values."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None
        for attr in ("correlation_id", "request_id"):
            value = getattr(record, attr, None)
            if isinstance(value, str):
                setattr(record, attr, redact(value))
        rid = request_id.get()
        if rid and not hasattr(record, "request_id"):
            record.request_id = rid
        return True


#: Record attributes that are not extras. uvicorn adds `color_message`, the message again with terminal
#: colour codes: it would repeat every uvicorn line, escape codes and all.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_text:
            payload["exc"] = record.exc_text
        return redact(json.dumps(payload, ensure_ascii=False))


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = [
            f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
        ]
        if extras:
            text += " [" + " ".join(extras) + "]"
        return redact(text)


def make_handler(fmt: str, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(RedactingFilter())
    return handler


def configure_logging(fmt: str = "console", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Install one redacting handler on the root logger (replacing any earlier one of ours)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_apikey_bot", False):
            root.removeHandler(existing)
    handler = make_handler(fmt, stream)
    handler._apikey_bot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Slack's SDK and Bolt log whole request and response bodies at DEBUG: those carry keys (a delivery,
    # a pasted key in /apikey link). Redaction would mask them; not logging them at all is safer.
    for name in ("slack_sdk", "slack_bolt", "bot.bolt"):
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    # httpx logs every request line at INFO; the DataOS client logs its own (with correlation ids).
    # Alembic names each of its plugins at INFO on every migration (its "Running upgrade" lines stay).
    for name in ("httpx", "httpcore", "alembic.runtime.plugins"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
