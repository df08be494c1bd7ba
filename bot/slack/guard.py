"""The front door of everything Slack sends: read once, parse once, check the shape, then hand the very
same dict to Bolt.

Bolt assumes well-formed payloads: it answers a malformed one with a 500, and its own body parser
guesses (any form body containing the word "payload" is taken for an interaction; any body starting
with `{` for JSON). So the bot parses each request itself, exactly once, by its declared content type,
refuses anything ambiguous (repeated fields, a body that does not match its content type, nesting no
Slack payload has), checks every field the bot or Bolt reads, and gives Bolt the parsed dict. What was
checked is what the listeners get. Socket Mode envelopes go through the same `check_payload`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

from pydantic import ValidationError

if TYPE_CHECKING:
    from bot.slack.shapes import Shape


#: Slack's payloads nest about ten levels (a view's blocks, options, texts); far deeper is not Slack.
MAX_DEPTH = 32
#: A slash command has about fifteen fields; an interaction one.
MAX_FIELDS = 50

Kind = Literal["command", "interaction", "event", "url_verification", "ssl_check", "app_rate_limited"]


class Rejection(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Inbound:
    """One request from Slack, parsed: what kind it is and the payload every listener will read."""

    kind: Kind
    payload: dict[str, Any]


# ---- parsing -----------------------------------------------------------------------------------


def parse_body(text: str, content_type: str) -> Inbound:
    """The one parse of a request body (already decoded), by its declared content type; Rejection (4xx)
    if it is not a request the bot handles or could be read two ways."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return _parse_form(text)
    if kind == "application/json":
        data = _json_object(text, "request body")
        if data.get("type") == "url_verification":
            return Inbound("url_verification", data)
        if data.get("type") == "event_callback":
            return Inbound("event", data)
        if data.get("type") == "app_rate_limited":
            return Inbound("app_rate_limited", data)
        raise Rejection(404, "This request type is not handled.")
    raise Rejection(415, "Send application/x-www-form-urlencoded or application/json.")


def is_ssl_check(body: bytes) -> bool:
    """Slack's `ssl_check=1` probe of a slash command URL (sent signed or not): it only wants a 200."""
    try:
        form = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except (UnicodeDecodeError, ValueError):
        return False
    return form.get("ssl_check") == "1" and "payload" not in form and "command" not in form


def _parse_form(text: str) -> Inbound:
    if text.lstrip().startswith("{"):
        raise Rejection(400, "The body is JSON but was sent as a form; send it as application/json.")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise Rejection(400, f"The form body is malformed or has more than {MAX_FIELDS} fields.") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise Rejection(400, "A form field is repeated, so the request could be read two ways.")
    if "ssl_check" in form and "payload" not in form and "command" not in form:
        return Inbound("ssl_check", form)
    if "payload" in form:
        if "command" in form:
            raise Rejection(400, "A form with both a command and a payload could be read two ways.")
        return Inbound("interaction", _json_object(form["payload"], "interaction payload"))
    if "command" in form:
        return Inbound("command", form)
    raise Rejection(400, "The form is neither a slash command nor an interaction.")


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise Rejection(400, f"The {what} is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Rejection(400, f"The {what} is not a JSON object.")
    if too_deep(data, MAX_DEPTH):
        raise Rejection(400, f"The {what} is nested deeper than any Slack payload.")
    return data


def too_deep(value: Any, limit: int) -> bool:
    """True if `value` nests more than `limit` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


# ---- shape checks ------------------------------------------------------------------------------


def check_payload(inbound: Inbound) -> None:
    """Raise Rejection (4xx) unless the payload has the shape the bot's code and Bolt rely on."""
    # Deferred for start-up speed: defining the shapes' pydantic classes costs tens of ms of start-up, for
    # requests that come later (`warm_up` loads them once the bot is ready).
    from bot.slack import shapes  # noqa: PLC0415 (deferred for start-up)

    data = inbound.payload
    if inbound.kind == "command":
        _validate(shapes.Command, data, "slash command")
    elif inbound.kind == "interaction":
        kind = data.get("type")
        if kind == "block_actions":
            _validate(shapes.BlockActions, data, "button click")
        elif kind == "view_submission":
            _validate(shapes.ViewSubmission, data, "form submission")
        elif kind == "block_suggestion":
            _validate(shapes.BlockSuggestion, data, "options request")
        else:
            raise Rejection(404, "This interaction type is not handled.")
    elif inbound.kind == "event":
        _validate(shapes.EventCallback, data, "event")
        shape = shapes.EVENT_SHAPES.get(str(data["event"]["type"]))
        if shape is not None:
            _validate(shape, data["event"], "event")
    elif inbound.kind == "url_verification":
        _validate(shapes.UrlVerification, data, "URL verification")
    elif inbound.kind == "app_rate_limited":
        _validate(shapes.AppRateLimited, data, "app_rate_limited callback")


def _validate(model: type[Shape], data: Any, what: str) -> None:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors(include_input=False, include_url=False)[0]["loc"])
        raise Rejection(400, f"Malformed {what}: {where or 'body'} is missing or invalid.") from None


def warm_up() -> None:
    """Load the shapes and build their validators now (after start-up), not in the first request."""
    from bot.slack import shapes  # noqa: PLC0415 (deferred for start-up, as in check_payload)

    shapes.build_all()
