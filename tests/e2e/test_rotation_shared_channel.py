"""A rotating team whose channel is shared with another organisation (Slack Connect) over real HTTP (the bot
under uvicorn, the Slack and DataOS stand-ins, a real OpenBao): the channel gets no announcement, no update
of one and no failure message; its owners hear by DM, and the admins are told the channel is shared."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from bot.playground.slack import SlackCall
from bot.reminders.sweep import Sweeper
from tests.bao import Bao
from tests.conftest import FakeClock
from tests.e2e.conftest import Bot
from tests.e2e.harness import text_of
from tests.e2e.test_rotation_slack import GRANT, admin, buttons, own
from tests.rotation_helpers import ADMIN, APP, CHANNEL, OLD, OWNER, WED_1430, live_keys, unique_path

D = timedelta(days=1)


@pytest.fixture
def policy(bao: Bao) -> str:
    name = f"rotator-{uuid.uuid4().hex[:8]}"
    bao.policy(name, GRANT)
    return name


@pytest.fixture
def bot_settings(bao: Bao, policy: str) -> dict[str, Any]:
    return {"vault_addr": bao.addr, "vault_token": bao.token([policy]), "vault_allowed_paths": "secret/pipelines/",
            "admin_slack_user_ids": [ADMIN]}


@pytest.fixture(autouse=True)
def wednesday(clock: FakeClock) -> None:
    clock._now = WED_1430


def share(bot: Bot) -> None:
    """The team channel becomes a Slack Connect channel (what Slack says of it is kept up to 5 minutes)."""
    bot.slack.channels[CHANNEL].update(is_ext_shared=True, is_shared=True, connected_team_ids=["T0123", "T0PARTNER"])
    bot.clock.advance(minutes=6)


def to(bot: Bot, where: str, *methods: str) -> list[SlackCall]:
    return [c for m in methods or ("chat.postMessage", "chat.update") for c in bot.slack.calls_to(m)
            if c.params.get("channel") == where]


def said_to(bot: Bot, where: str) -> str:
    return "\n".join(text_of(c) for c in to(bot, where) if c.result.get("ok"))


def test_a_rotation_is_announced_to_the_owners_by_dm_when_the_team_channel_is_shared(bot: Bot, bao: Bao) -> None:
    old = own(bot)
    path = unique_path()
    admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey grace 1h")
    share(bot)
    bot.server.call(Sweeper(bot.runtime).run())
    [version] = bao.versions("secret", path)
    new_name = version["data"]["key_name"]
    assert "was rotated" in said_to(bot, OWNER) and new_name in said_to(bot, OWNER)
    assert "shared with another organisation" in said_to(bot, ADMIN)
    bot.clock.advance(hours=2)
    bot.server.call(Sweeper(bot.runtime).run())
    assert live_keys(bot.heimdall) == [new_name]
    assert "was revoked" in said_to(bot, OWNER) and old.apikey not in said_to(bot, OWNER)
    assert to(bot, CHANNEL) == []  # nothing at all in a channel another organisation reads


def test_an_announcement_made_before_the_channel_was_shared_is_not_updated_there(bot: Bot, bao: Bao) -> None:
    own(bot)
    path = unique_path()
    admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey grace 1h")
    bot.server.call(Sweeper(bot.runtime).run())
    [announced] = [c for c in to(bot, CHANNEL, "chat.postMessage") if "was rotated" in text_of(c)]
    share(bot)
    bot.clock.advance(hours=2)
    bot.server.call(Sweeper(bot.runtime).run())
    assert live_keys(bot.heimdall) == [bao.versions("secret", path)[0]["data"]["key_name"]]
    assert to(bot, CHANNEL, "chat.update") == [] and to(bot, CHANNEL, "chat.postMessage") == [announced]
    assert "was revoked" in said_to(bot, OWNER)


def test_a_failed_rotation_reaches_the_owners_by_dm_when_the_team_channel_is_shared(
        bot: Bot, bao: Bao, policy: str) -> None:
    own(bot)
    path = unique_path()
    admin(bot, f"admin team {APP} rotate vault:secret/{path}#apikey")
    bao.policy(policy, 'path "secret/data/other/*" { capabilities = ["read"] }')  # the right is taken away
    share(bot)
    bot.server.call(Sweeper(bot.runtime).run())
    failure = next(c for c in to(bot, OWNER, "chat.postMessage") if "could not be rotated" in text_of(c))
    assert {"rotation_retry", "rotation_renew_by_hand"} <= set(buttons(failure)) and OLD in text_of(failure)
    note = next(c for c in to(bot, ADMIN, "chat.postMessage") if "Rotation failed" in text_of(c))
    assert "were told by DM" in text_of(note) and f"were told in <#{CHANNEL}>" not in text_of(note)
    assert to(bot, CHANNEL) == []
