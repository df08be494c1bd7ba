"""What the Heimdall emulator holds and records: its keys (in DataOS's wire format), the calls it was
sent, the faults it was told to inject, and DataOS's formats for key values and made-up names."""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

GO_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
KEY_NAME = re.compile(r"^[A-Za-z0-9_]+$")
ADVERBS = ["hopefully", "loudly", "quietly", "boldly", "gently", "swiftly", "oddly", "calmly", "wisely"]
ADJECTIVES = ["striking", "brave", "shiny", "sleepy", "clever", "eager", "fancy", "jolly", "witty"]
ANIMALS = ["newt", "otter", "lynx", "heron", "panda", "koala", "gecko", "bison", "crane", "moose"]
OPERATOR_ID = "apikey-bot"
#: How long a test waits for calls to arrive (event-driven: a passing test never waits it out).
WAIT_CEILING = 30.0
#: The operator key of an emulator run by hand: readable, and not shaped like a DataOS key.
LOCAL_OPERATOR_KEY = "local-operator-key"


def make_key_value(name: str) -> str:
    """DataOS's format: base64("<name>.<uuid4>")."""
    return base64.b64encode(f"{name}.{uuid.uuid4()}".encode()).decode()


def ceil_hour(moment: datetime) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(hours=1)


@dataclass
class EmuToken:
    name: str
    user_id: str
    expiration: datetime
    apikey: str
    description: str | None = None
    created: datetime | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": "apikey",
            "expiration": self.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": {"apikey": self.apikey},
            "user_id": self.user_id,
            "description": self.description,
            "_links": {"self": f"/api/v1/users/{self.user_id}/tokens/{self.name}"},
        }


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    at: float = field(default_factory=time.monotonic)
    ms: float = 0.0
    answer: bytes | None = None  # the response body, kept only when there is an observer


@dataclass
class Fault:
    status: int | None = 503
    delay: float = 0.0
    after_effect: bool = False
    match: str | None = None  # only calls whose "METHOD /path" contains this
    retry_after: int | None = None  # sent as a Retry-After header
    body: bytes | None = None  # sent as-is instead of an error document (a garbled or foreign answer)
    headers: dict[str, str] | None = None  # with `body`: extra response headers (a Location, say)


class CallLog(list[Call]):
    """The calls the emulator received, in order, recorded as they arrive (before any fault's delay), so a
    test can wait for one to be in flight: event-driven, not a sleep."""

    def __init__(self) -> None:
        super().__init__()
        self._arrived = threading.Condition()

    def append(self, call: Call) -> None:
        with self._arrived:
            super().append(call)
            self._arrived.notify_all()

    def wait_for(self, method: str, path_contains: str = "", count: int = 1, *,
                 timeout: float = WAIT_CEILING) -> list[Call]:
        """Block until `count` calls of `method` whose path contains `path_contains` have arrived."""
        def found() -> list[Call]:
            return [c for c in list(self) if c.method == method and path_contains in c.path]

        with self._arrived:
            if not self._arrived.wait_for(lambda: len(found()) >= count, timeout):
                raise AssertionError(f"timed out waiting for {count} {method} call(s) to {path_contains!r}")
        return found()
