"""What the playground's Slack keeps: messages, people, modals, and where a response_url's posts go."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Message:
    id: str
    channel: str
    ts: str
    author: str
    text: str
    blocks: list[Any]
    ephemeral_to: str | None = None
    edited: bool = False
    thread_ts: str | None = None
    seq: int = 0  # when it arrived: a page holds the ephemeral messages that arrived while it was open


@dataclass
class RespondTo:
    """Where a response_url's posts go: the person, their channel, and the message clicked (if any)."""

    user: str
    channel: str
    message_id: str | None = None  # None: a slash command's (its answers are never replaced)


@dataclass
class Persona:
    user_id: str
    name: str
    email: str
    tz: str
    note: str


@dataclass
class Modal:
    stack: list[str] = field(default_factory=list)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    trouble: str | None = None  # Slack's own words when the bot did not answer a submission
