"""Issue #20 A3: one odd DataOS record must not break identity for everyone.

Records are parsed one by one: `null` lists are empty, a record without what the bot needs is skipped
(counted in a metric, logged once by id) and the others work; answers have a size cap."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.conftest import FakeClock
from tests.e2e.conftest import Bot
from tests.e2e.harness import make_settings, running_bot, text_of


def _skipped(bot_http_metrics: str, kind: str) -> float:
    for line in bot_http_metrics.splitlines():
        if line.startswith(f'apikey_bot_dataos_records_skipped_total{{kind="{kind}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_user_with_null_tags_and_one_without_an_id_do_not_break_the_directory(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    heimdall.add_user("zed", "zed@example.com")
    heimdall.users["zed"]["tags"] = None  # how Go encodes an empty list
    heimdall.users["zed"]["properties"] = None
    heimdall.users["broken"] = {"name": "Nobody", "email": "nobody@example.com", "type": "person"}  # no id
    heimdall.users["odd"] = {"id": "odd", "email": {"not": "an e-mail"}, "type": "person"}
    heimdall.users["typeless"] = {"id": "typeless", "email": "typeless@example.com", "type": None, "tags": None}
    slack.add_user("U0ZED", "zed@example.com")
    slack.add_user("U0TYPELESS", "typeless@example.com")
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"))
    caplog.set_level(logging.WARNING)
    with running_bot(settings, clock, slack) as (server, user):
        before = _skipped(user.http.get("/metrics").text, "user")
        server.call(server.runtime.directory.refresh())
        ready = user.http.get("/readyz")
        assert ready.status_code == 200, ready.text
        heimdall.add_token("alice", "alices_key", hours=48)
        user.command("list")  # alice, mapped by e-mail, still gets her keys
        assert "alices_key" in text_of(slack.wait_for("response_url")[0])
        user.command("whoami", user="U0ZED")  # the null-tags user is an ordinary person
        assert "`zed`" in text_of(slack.wait_for("response_url", 2)[1])
        user.command("whoami", user="U0TYPELESS")  # an explicit null type is not taken for a person
        assert "No DataOS user has the e-mail address" in text_of(slack.wait_for("response_url", 3)[2])
        server.call(server.runtime.directory.refresh())  # a second load logs nothing new
        after = _skipped(user.http.get("/metrics").text, "user")
    assert after - before >= 3  # two skipped records, counted at each of the (at least two) loads
    lines = [r.getMessage() for r in caplog.records if "skipped a user record" in r.getMessage()]
    assert sum("(none)" in m for m in lines) == 1 and sum("id odd" in m for m in lines) == 1


def test_a_key_list_with_one_broken_record_shows_the_others(bot: Bot) -> None:
    good = {"name": "good_key", "type": "apikey", "expiration": "2026-12-30T10:00:00Z",
            "data": {"apikey": "Z29vZF9rZXkuMTIz"}, "user_id": "alice", "description": None, "_links": None}
    broken = {"name": "no_expiry", "type": "apikey", "data": None, "user_id": "alice"}
    nameless = {"type": "apikey", "expiration": "2026-12-30T10:00:00Z"}
    bot.heimdall.fail_next(1, 200, match="GET /heimdall/api/v1/users/alice/tokens",
                           body=json.dumps([good, broken, nameless]).encode())
    bot.user.command("list")
    text = text_of(bot.slack.wait_for("response_url")[0])
    assert "good_key" in text and "could not read" not in text


def test_an_answer_over_the_size_cap_is_refused_with_a_sentence(slack: SlackFake, heimdall: HeimdallEmulator,
                                                                clock: FakeClock, tmp_path: Path) -> None:
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"), dataos_max_response_mb=1)
    huge = json.dumps([{"name": f"k{i}", "expiration": "2026-12-30T10:00:00Z", "description": "x" * 200}
                       for i in range(6000)]).encode()
    assert len(huge) > 1024 * 1024
    with running_bot(settings, clock, slack) as (_server, user):
        heimdall.fail_next(1, 200, match="GET /heimdall/api/v1/users/alice/tokens", body=huge)
        user.command("list")
        text = text_of(slack.wait_for("response_url")[0])
        assert "larger than the bot accepts" in text or "could not read" in text
        assert "k5999" not in text
        heimdall.add_token("alice", "alices_key", hours=48)
        user.command("list")  # the next answer, of normal size, is read
        assert "alices_key" in text_of(slack.wait_for("response_url", 2)[1])
