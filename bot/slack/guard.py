"""The front door of `POST /slack/events`: signature first, then the shape of what Bolt will read.

Bolt assumes well-formed payloads and answers a malformed one with a 500. A signed request is almost
always well-formed, but a bug, a replay tool or a leaked signing secret should meet a clear 4xx, so
each kind of request the bot handles is checked against the few fields its code relies on.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class _User(_Loose):
    id: str = Field(min_length=1, max_length=32)


class _Action(_Loose):
    action_id: str = Field(min_length=1, max_length=255)
    value: str | None = Field(default=None, max_length=2000)


class _BlockActions(_Loose):
    type: Literal["block_actions"]
    user: _User
    actions: list[_Action] = Field(min_length=1, max_length=5)


class _ViewState(_Loose):
    values: dict[str, dict[str, dict[str, Any]]]


class _View(_Loose):
    id: str = Field(min_length=1, max_length=64)
    type: str
    callback_id: str = Field(min_length=1, max_length=255)
    hash: str | None = None
    private_metadata: str | None = Field(default=None, max_length=3000)
    state: _ViewState


class _ViewSubmission(_Loose):
    type: Literal["view_submission"]
    user: _User
    view: _View


class _Command(_Loose):
    command: str = Field(min_length=2, max_length=32)
    user_id: str = Field(min_length=1, max_length=32)
    text: str = Field(default="", max_length=4000)
    trigger_id: str = Field(default="", max_length=255)
    channel_id: str = Field(default="", max_length=32)
    response_url: str = Field(default="", max_length=1000)


class _Event(_Loose):
    type: str


class _EventCallback(_Loose):
    type: Literal["event_callback"]
    event: _Event


class _UrlVerification(_Loose):
    type: Literal["url_verification"]
    challenge: str = Field(max_length=200)


class Rejection(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_body(body: bytes, content_type: str) -> None:
    """Raise Rejection (4xx) unless `body` is a request shape the bot handles."""
    kind = content_type.split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejection(400, "The request body is not UTF-8.") from None
    if kind == "application/x-www-form-urlencoded":
        form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True, max_num_fields=50).items()}
        if "payload" in form:
            _check_payload(form["payload"])
        else:
            _validate(_Command, form, "slash command")
        return
    if kind == "application/json":
        try:
            data = json.loads(text)
        except ValueError:
            raise Rejection(400, "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise Rejection(400, "The request body is not a JSON object.")
        if data.get("type") == "url_verification":
            _validate(_UrlVerification, data, "URL verification")
        elif data.get("type") == "event_callback":
            _validate(_EventCallback, data, "event")
        else:
            raise Rejection(404, "This request type is not handled.")
        return
    raise Rejection(415, "Send application/x-www-form-urlencoded or application/json.")


def _check_payload(raw: str) -> None:
    try:
        data = json.loads(raw)
    except ValueError:
        raise Rejection(400, "The interaction payload is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Rejection(400, "The interaction payload is not a JSON object.")
    kind = data.get("type")
    if kind == "block_actions":
        _validate(_BlockActions, data, "button click")
    elif kind == "view_submission":
        _validate(_ViewSubmission, data, "form submission")
    else:
        raise Rejection(404, "This interaction type is not handled.")


def _validate(model: type[BaseModel], data: Any, what: str) -> None:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors(include_input=False, include_url=False)[0]["loc"])
        raise Rejection(400, f"Malformed {what}: {where or 'body'} is missing or invalid.") from None
