"""Slack side: listeners per kind (commands, views, actions), Block Kit builders, delivery.

The listeners are registered on a Bolt app by `bot.slack.surfaces.register`, which `bot.compose` calls once the
bot is ready (or with the first request), above this package."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bot.metrics import count_request
from bot.slack.common import apologise, apology_modal

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncAck
    from slack_bolt.response import BoltResponse

    from bot.app import Runtime

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Awaitable[None]])


def tracked(rt: Runtime, kind: str, name: str | Callable[[dict[str, Any]], str]) -> Callable[[F], F]:
    """Wrap a listener: counted in metrics by outcome, awaited by a graceful shutdown, and a failure
    nobody foresaw (the database down, a bug) still ends in a sentence to the person, not silence."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        async def wrapper(**kwargs: Any) -> None:
            body = kwargs.get("body") or {}
            label = name(body) if callable(name) else name
            ack = kwargs.get("ack")
            if ack is not None:
                kwargs["ack"] = ack = AckFirst(ack, rt)
            async with rt.work():
                try:
                    await fn(**kwargs)
                except Exception:
                    count_request(kind, label, "error")
                    log.exception("%s %s failed", kind, label)
                    if ack is not None and getattr(ack, "response", None) is None:
                        if body.get("type") == "view_submission":
                            # An empty ack would close the modal, and a views.update of it would then
                            # find nothing: the apology goes into the modal in the ack itself.
                            await ack(response_action="update", view=apology_modal())
                            return
                        await ack()  # never leave Slack waiting for its 3 seconds
                    await apologise(rt.slack, body, kwargs.get("respond"))
                    return
                count_request(kind, label, "ok")

        return wrapper  # type: ignore[return-value]

    return decorate


class AckFirst:
    """Bolt's `ack`, after which the listener lets other pending acknowledgements go first
    (`Runtime.after_acks`): in a burst, every request is acknowledged before anyone's follow-up work."""

    def __init__(self, ack: AsyncAck, rt: Runtime) -> None:
        self._ack = ack
        self._rt = rt

    @property
    def response(self) -> BoltResponse | None:
        return self._ack.response

    async def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        response = await self._ack(*args, **kwargs)
        await self._rt.after_acks()
        return response
