"""Fault injection through the fakes: what the person sees, that nothing is half-done, and that the
next request is served normally. (More faults live next to their flows: create timeouts and 409s in
test_create.py, delivery fallbacks and expired triggers in test_create.py and test_commands.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.store import create_engine
from tests.conftest import TEST_DATABASE_URL, FakeClock, require_postgres
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, make_settings, revoke_value, running_bot, text_of, view_id_of
from tests.fakes.tcp_proxy import TcpProxy


def last_reply(bot: Bot, n: int) -> str:
    return text_of(bot.slack.wait_for("response_url", n)[n - 1])


def list_works(bot: Bot, n: int) -> None:
    bot.user.command("list")
    assert "Your DataOS API keys" in last_reply(bot, n)


def test_dataos_slower_than_the_timeout(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "k", hours=48)
    list_works(bot, 1)
    bot.heimdall.fail_next(4, None, delay=1.0, match="/users/alice/tokens")  # each beyond the 0.5 s timeout
    bot.user.command("list")
    text = last_reply(bot, 2)
    assert "DataOS is not answering right now, so I could not finish listing your keys" in text
    assert "Please try again in a few minutes." in text
    list_works(bot, 3)


def test_dataos_429_is_retried_quietly_and_persistent_429_is_explained(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "k", hours=48)
    bot.heimdall.fail_next(2, 429, match="/users/alice/tokens", retry_after=1)
    list_works(bot, 1)
    bot.heimdall.fail_next(10, 429, match="/users/alice/tokens")
    bot.user.command("list")
    assert "DataOS is not answering right now" in last_reply(bot, 2)
    bot.heimdall.faults.clear()
    list_works(bot, 3)


def test_dataos_revoke_timeout_says_it_may_have_happened(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "k", hours=48)
    bot.heimdall.fail_next(4, None, delay=1.0, match="DELETE")
    bot.user.click("revoke_key", revoke_value(key))
    text = last_reply(bot, 1)
    assert "cannot tell whether it was done" in text and "/apikey list" in text


@pytest.fixture
def proxied_heimdall(heimdall: HeimdallEmulator) -> Iterator[tuple[TcpProxy, str]]:
    target = make_url(heimdall.url)
    proxy = TcpProxy("127.0.0.1", int(target.port or 0))
    port = proxy.start()
    yield proxy, f"http://127.0.0.1:{port}/heimdall"
    proxy.stop()


def test_dataos_connection_refused_then_back(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                             tmp_path: Path, proxied_heimdall: tuple[TcpProxy, str]) -> None:
    proxy, url = proxied_heimdall
    heimdall.add_token("alice", "k", hours=48)
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"), heimdall_url=url)
    with running_bot(settings, clock, slack) as (_server, user):
        user.command("whoami")
        assert "`alice`" in text_of(slack.wait_for("response_url")[0])
        proxy.block()
        user.command("list")
        assert "DataOS is not answering right now" in text_of(slack.wait_for("response_url", 2)[1])
        opened = user.command_modal("create")
        user.submit(view_id_of(opened), create_values(name="while_down"))
        failed = slack.wait_for("views.update", where=lambda c: ":x:" in text_of(c))[0]
        assert "DataOS is not answering right now" in text_of(failed) and "Nothing was changed" in text_of(failed)
        proxy.unblock()
        user.command("list")
        assert "Your DataOS API keys" in text_of(slack.wait_for("response_url", 3)[2])
        assert "while_down" not in heimdall.tokens["alice"]
        # the failed create released its claim: the same person can simply try again
        opened = user.command_modal("create")
        user.submit(view_id_of(opened), create_values(name="while_down"))
        slack.wait_for("views.update", where=lambda c: "Key *while_down* created" in text_of(c))


def test_slack_5xx_opening_a_modal(bot: Bot) -> None:
    bot.slack.fail("views.open", "internal_error", status=500)
    bot.user.command("create")
    text = last_reply(bot, 1)
    assert "Slack answered `internal_error`" in text and "Nothing was changed" in text
    assert bot.user.command_modal("create").params["view"]["callback_id"] == "create_key"


def test_slack_429_on_delivery_is_waited_out(bot: Bot) -> None:
    bot.slack.fail("chat.postEphemeral", "ratelimited", status=429, retry_after=1)
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name="patient"))
    result = bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))[0]
    assert "sent it to you privately" in text_of(result)
    delivered = bot.slack.delivered("chat.postEphemeral")
    assert len(delivered) == 1 and bot.heimdall.tokens["alice"]["patient"].apikey in text_of(delivered[0])


def test_dm_channel_unavailable_falls_back_to_the_modal(bot: Bot) -> None:
    bot.slack.fail("conversations.open", "cannot_dm_bot")
    opened = bot.user.command_modal("create")
    bot.user.submit(view_id_of(opened), create_values(name="no_dm"))
    result = bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))[0]
    assert "could not deliver it" in text_of(result)
    secret = bot.heimdall.tokens["alice"]["no_dm"].apikey
    bot.user.click("show_key_here", "no_dm", view_id=view_id_of(opened))
    bot.slack.wait_for("views.update", where=lambda c: secret in text_of(c))


@pytest.fixture
def pg_proxy() -> Iterator[tuple[TcpProxy, str]]:
    require_postgres()
    import asyncio

    import asyncpg

    u = make_url(TEST_DATABASE_URL)
    proxy = TcpProxy(u.host or "127.0.0.1", u.port or 5432)
    proxy.start()
    schema = f"t_{uuid.uuid4().hex[:12]}"

    async def ddl(sql: str) -> None:
        conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, database=u.database)
        await conn.execute(sql)
        await conn.close()

    asyncio.run(ddl(f'CREATE SCHEMA "{schema}"'))
    yield proxy, schema
    asyncio.run(ddl(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    proxy.stop()


def test_database_briefly_unavailable(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                      tmp_path: Path, pg_proxy: tuple[TcpProxy, str]) -> None:
    proxy, schema = pg_proxy
    u = make_url(TEST_DATABASE_URL).set(port=proxy.port)
    url = u.render_as_string(hide_password=False)
    engine = create_engine(url, connect_args={"server_settings": {"search_path": schema}})
    heimdall.add_token("alice", "k", hours=48)
    settings = make_settings(slack, heimdall, str(tmp_path / "unused.db"), database_url=url)
    with running_bot(settings, clock, slack, engine=engine) as (_server, user):
        user.command("list")
        assert "Your DataOS API keys" in text_of(slack.wait_for("response_url")[0])
        proxy.block()
        user.command("list", user="U0BOB")  # someone the bot has not seen lately: their link is unknown
        text = text_of(slack.wait_for("response_url", 2)[1])
        assert "database is not answering" in text and "nothing was done" in text
        opened = user.command_modal("create")  # opening the form needs no database
        user.submit(view_id_of(opened), create_values(name="db_down"))
        failed = slack.wait_for("views.update", where=lambda c: "database is not answering" in text_of(c))[0]
        assert failed.params["view_id"] == view_id_of(opened) and "Nothing was changed" in text_of(failed)
        assert "db_down" not in heimdall.tokens["alice"]
        ready = user.http.get("/readyz")
        assert ready.status_code == 503 and "unreachable" in ready.json()["checks"]["database"]
        proxy.unblock()
        user.command("list")
        assert "Your DataOS API keys" in text_of(slack.wait_for("response_url", 3)[2])
        assert user.http.get("/readyz").status_code == 200
