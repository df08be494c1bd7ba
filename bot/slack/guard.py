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
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

#: Slack's payloads nest about ten levels (a view's blocks, options, texts); far deeper is not Slack.
MAX_DEPTH = 32
#: A slash command has about fifteen fields; an interaction one.
MAX_FIELDS = 50

Kind = Literal["command", "interaction", "event", "url_verification", "ssl_check", "app_rate_limited"]
Text = StrictStr


class Rejection(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Inbound:
    """One request from Slack, parsed: what kind it is and the payload every listener will read."""

    kind: Kind
    payload: dict[str, Any]


# ---- shapes ------------------------------------------------------------------------------------
# Only the fields the bot's code or Bolt's context builders read are typed; the rest passes as is.


class _Loose(BaseModel):
    # Built on first use: a few dozen ms of start-up otherwise, for requests that come later.
    model_config = ConfigDict(extra="allow", defer_build=True)


class _Ref(_Loose):
    """`team`, `enterprise`, `authorizations[]`: Bolt reads ids from them."""

    id: Text | None = Field(default=None, max_length=64)
    team_id: Text | None = Field(default=None, max_length=64)
    enterprise_id: Text | None = Field(default=None, max_length=64)
    user_id: Text | None = Field(default=None, max_length=64)
    is_enterprise_install: StrictBool | Text | None = None


class _User(_Loose):
    id: Text = Field(min_length=1, max_length=32)
    team_id: Text | None = Field(default=None, max_length=64)


class _Channel(_Loose):
    id: Text = Field(min_length=1, max_length=32)


class _Nested(_Loose):
    """Messages and items inside a payload: Bolt looks for a user, channel and thread in them."""

    user: Text | _User | None = None
    channel: Text | _Channel | None = None
    thread_ts: Text | None = Field(default=None, max_length=32)


class _ResponseUrl(_Loose):
    response_url: Text | None = Field(default=None, max_length=1000)


class _Common(_Loose):
    """What Bolt reads from any payload to build its context, whatever the kind."""

    team: Text | _Ref | None = None
    enterprise: Text | _Ref | None = None
    authorizations: list[_Ref] | None = Field(default=None, max_length=10)
    user: Text | _User | None = None
    channel: Text | _Channel | None = None
    message: _Nested | None = None
    previous_message: _Nested | None = None
    item: _Nested | None = None
    assistant_thread: _Nested | None = None
    function_data: _Loose | None = None
    thread_ts: Text | None = Field(default=None, max_length=32)
    is_enterprise_install: StrictBool | Text | None = None
    is_ext_shared_channel: StrictBool | None = None
    team_id: Text | None = Field(default=None, max_length=64)
    enterprise_id: Text | None = Field(default=None, max_length=64)
    user_id: Text | None = Field(default=None, max_length=32)
    channel_id: Text | None = Field(default=None, max_length=32)
    response_url: Text | None = Field(default=None, max_length=1000)
    response_urls: list[_ResponseUrl] | None = Field(default=None, max_length=10)
    trigger_id: Text | None = Field(default=None, max_length=255)


class _Option(_Loose):
    value: Text = Field(max_length=2000)


class _Action(_Loose):
    action_id: Text = Field(min_length=1, max_length=255)
    block_id: Text | None = Field(default=None, max_length=255)
    type: Text | None = Field(default=None, max_length=64)
    value: Text | None = Field(default=None, max_length=2000)
    selected_option: _Option | None = None


class _Input(_Loose):
    value: Text | None = Field(default=None, max_length=3000)
    selected_option: _Option | None = None


class _ViewState(_Loose):
    values: dict[str, dict[str, _Input]]


class _ActionView(_Loose):
    """The view a button sits in (a modal or the Home tab)."""

    id: Text = Field(min_length=1, max_length=64)
    type: Text = Field(max_length=32)
    callback_id: Text | None = Field(default=None, max_length=255)
    hash: Text | None = Field(default=None, max_length=255)
    private_metadata: Text | None = Field(default=None, max_length=3000)
    state: _ViewState | None = None
    app_installed_team_id: Text | None = Field(default=None, max_length=64)
    team_id: Text | None = Field(default=None, max_length=64)


class _SubmittedView(_ActionView):
    callback_id: Text = Field(min_length=1, max_length=255)
    state: _ViewState


class _Container(_Loose):
    type: Text | None = Field(default=None, max_length=32)
    channel_id: Text | None = Field(default=None, max_length=32)
    message_ts: Text | None = Field(default=None, max_length=32)
    view_id: Text | None = Field(default=None, max_length=64)


class _BlockActions(_Common):
    type: Literal["block_actions"]
    user: _User
    actions: list[_Action] = Field(min_length=1, max_length=5)
    container: _Container | None = None
    view: _ActionView | None = None


class _ViewSubmission(_Common):
    type: Literal["view_submission"]
    user: _User
    view: _SubmittedView


class _BlockSuggestion(_Common):
    """What an external select's typing sends (`block_suggestion`): the options load for the create form."""

    type: Literal["block_suggestion"]
    user: _User
    action_id: Text = Field(min_length=1, max_length=255)
    block_id: Text | None = Field(default=None, max_length=255)
    value: Text = Field(default="", max_length=200)
    view: _ActionView | None = None


class _Command(_Common):
    command: Text = Field(min_length=2, max_length=32)
    user_id: Text = Field(min_length=1, max_length=32)
    text: Text = Field(default="", max_length=4000)
    trigger_id: Text = Field(default="", max_length=255)
    channel_id: Text = Field(default="", max_length=32)
    response_url: Text = Field(default="", max_length=1000)


class _Profile(_Loose):
    email: Text | None = Field(default=None, max_length=320)
    real_name: Text | None = Field(default=None, max_length=500)


class _Member(_Loose):
    """A Slack user object, as `user_change` and `team_join` carry it."""

    id: Text = Field(min_length=1, max_length=32)
    deleted: StrictBool | None = None
    is_bot: StrictBool | None = None
    tz: Text | None = Field(default=None, max_length=64)
    tz_offset: StrictInt | None = Field(default=None, ge=-86400, le=86400)
    name: Text | None = Field(default=None, max_length=500)
    real_name: Text | None = Field(default=None, max_length=500)
    profile: _Profile | None = None


class _Event(_Nested):
    type: Text = Field(min_length=1, max_length=64)
    tab: Text | None = Field(default=None, max_length=32)
    bot_id: Text | None = Field(default=None, max_length=32)
    subtype: Text | None = Field(default=None, max_length=64)


class _MemberEvent(_Event):
    user: _Member  # type: ignore[assignment]


class _HomeOpened(_Event):
    user: Text = Field(min_length=1, max_length=32)


class _Posted(_Loose):
    """A message, as `message` events carry it (and, edited, inside `message_changed`)."""

    text: Text | None = Field(default=None, max_length=50_000)
    user: Text | None = Field(default=None, max_length=32)
    ts: Text | None = Field(default=None, max_length=32)
    bot_id: Text | None = Field(default=None, max_length=32)
    thread_ts: Text | None = Field(default=None, max_length=32)


class _MessageEvent(_Event):
    text: Text | None = Field(default=None, max_length=50_000)
    user: Text | None = Field(default=None, max_length=32)
    channel: Text | None = Field(default=None, max_length=32)
    ts: Text | None = Field(default=None, max_length=32)
    message: _Posted | None = None
    previous_message: _Posted | None = None


class _EventCallback(_Common):
    type: Literal["event_callback"]
    event_id: Text = Field(min_length=1, max_length=64)
    event: _Event


class _Tokens(_Loose):
    oauth: list[Text] | None = Field(default=None, max_length=1000)
    bot: list[Text] | None = Field(default=None, max_length=1000)


class _TokensRevoked(_Event):
    tokens: _Tokens


class _TeamAccess(_Event):
    """Enterprise Grid: the org admin granted or took back workspaces (`team_ids`)."""

    team_ids: list[Text] = Field(max_length=10_000)


class _AppRateLimited(_Loose):
    """Slack's top-level callback when it drops this app's events (over 30,000 an hour)."""

    type: Literal["app_rate_limited"]
    team_id: Text | None = Field(default=None, max_length=64)
    api_app_id: Text | None = Field(default=None, max_length=64)
    minute_rate_limited: StrictInt | None = None


class _UrlVerification(_Loose):
    type: Literal["url_verification"]
    challenge: Text = Field(max_length=200)


EVENT_SHAPES: dict[str, type[BaseModel]] = {
    "user_change": _MemberEvent, "team_join": _MemberEvent, "app_home_opened": _HomeOpened,
    "message": _MessageEvent, "tokens_revoked": _TokensRevoked,
    "team_access_granted": _TeamAccess, "team_access_revoked": _TeamAccess,
}


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
    data = inbound.payload
    if inbound.kind == "command":
        _validate(_Command, data, "slash command")
    elif inbound.kind == "interaction":
        kind = data.get("type")
        if kind == "block_actions":
            _validate(_BlockActions, data, "button click")
        elif kind == "view_submission":
            _validate(_ViewSubmission, data, "form submission")
        elif kind == "block_suggestion":
            _validate(_BlockSuggestion, data, "options request")
        else:
            raise Rejection(404, "This interaction type is not handled.")
    elif inbound.kind == "event":
        _validate(_EventCallback, data, "event")
        shape = EVENT_SHAPES.get(str(data["event"]["type"]))
        if shape is not None:
            _validate(shape, data["event"], "event")
    elif inbound.kind == "url_verification":
        _validate(_UrlVerification, data, "URL verification")
    elif inbound.kind == "app_rate_limited":
        _validate(_AppRateLimited, data, "app_rate_limited callback")


def _validate(model: type[BaseModel], data: Any, what: str) -> None:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors(include_input=False, include_url=False)[0]["loc"])
        raise Rejection(400, f"Malformed {what}: {where or 'body'} is missing or invalid.") from None
