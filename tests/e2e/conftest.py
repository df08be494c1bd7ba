from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.conftest import FakeClock
from tests.e2e.harness import BotServer, SlackUser, make_settings, running_bot


class Bot:
    """Everything an end-to-end test touches: the running bot, a Slack user, and both fakes."""

    def __init__(self, server: BotServer, user: SlackUser, slack: SlackFake, heimdall: HeimdallEmulator,
                 clock: FakeClock) -> None:
        self.server = server
        self.user = user
        self.slack = slack
        self.heimdall = heimdall
        self.clock = clock
        self.runtime = server.runtime


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    """Override in a test module to change settings."""
    return {}


@pytest.fixture
def bot(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, tmp_path: Path,
        bot_settings: dict[str, Any]) -> Iterator[Bot]:
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"), **bot_settings)
    with running_bot(settings, clock, slack) as (server, user):
        yield Bot(server, user, slack, heimdall, clock)
