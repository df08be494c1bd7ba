"""The `response_url`s of the Slack fake, as Slack keeps them: at most 5 posts within 30 minutes of the
command or click that made one (then `used_url` or `expired_url`, HTTP 404), every post's Block Kit
checked as `chat.postMessage` checks it (`invalid_blocks`, HTTP 400: the message is lost), and, for a
slash command's URL, `replace_original` and `delete_original` without effect: an ephemeral answer to a
command cannot be replaced or deleted (bolt-python #1268, bolt-js #2287), the post simply adds a message.
On a button's URL they replace or delete the message the button sits on."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.playground.slack.rules import message_refusal

#: A response_url takes five posts within thirty minutes (Slack's limits); then Slack answers 404.
RESPONSE_URL_POSTS = 5
RESPONSE_URL_SECONDS = 30 * 60


@dataclass
class ResponseUrl:
    made: float  # on the fake's url clock
    command: bool  # a slash command's (its replace_original does nothing) or a button's
    posts: int = 0


@dataclass(frozen=True)
class UrlAnswer:
    status: int
    error: str | None = None
    #: What the post did to the message it answers: "replaced", "deleted", "added" (a new message), or
    #: "ignored" (a delete on a slash command's URL).
    effect: str = "added"
    messages: tuple[str, ...] = ()


class ResponseUrls:
    """Mixed into `SlackFake`, which sets these up."""

    url: str
    url_clock: Callable[[], float]
    response_urls: dict[str, ResponseUrl]
    _ids: itertools.count[int]

    def issue_response_url(self, *, command: bool, token: str | None = None) -> tuple[str, str]:
        """A new response_url (and its token) for a command (`command=True`) or a click."""
        token = token or f"{'cmd' if command else 'action'}-{next(self._ids)}-{secrets.token_hex(4)}"
        self.response_urls[token] = ResponseUrl(self.url_clock(), command)
        return f"{self.url}/respond/{token}", token

    def response_url(self, name: str = "cmd", *, command: bool | None = None) -> str:
        """A response_url as Slack sends it with a slash command (`name="cmd"`) or a click (any other)."""
        is_command = name == "cmd" if command is None else command
        return self.issue_response_url(command=is_command, token=f"{name}-{next(self._ids)}")[0]

    def url_answer(self, token: str, body: dict[str, Any]) -> UrlAnswer:
        """What Slack answers a post of `body` to the response_url `token` (and counts it if it is taken)."""
        known = self.response_urls.get(token)
        if known is None or self.url_clock() - known.made > RESPONSE_URL_SECONDS:
            return UrlAnswer(404, "expired_url")
        if known.posts >= RESPONSE_URL_POSTS:
            return UrlAnswer(404, "used_url")
        refusal = message_refusal(body)
        if refusal is not None:
            return UrlAnswer(400, refusal.error, messages=refusal.messages)
        known.posts += 1
        if known.command:  # a command's answer is never replaced or deleted; a post to delete it does nothing
            return UrlAnswer(200, effect="ignored" if body.get("delete_original") else "added")
        effect = "deleted" if body.get("delete_original") else "replaced" if body.get("replace_original") else "added"
        return UrlAnswer(200, effect=effect)

    def is_command_url(self, token: str) -> bool:
        known = self.response_urls.get(token)
        return known is not None and known.command
