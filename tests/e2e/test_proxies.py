"""Proxies (#20 F.27): loopback is never proxied, and NO_PROXY is honoured by every client `serve` makes.

A proxy on 127.0.0.1 records every request line that reaches it and forwards nothing. The fakes are
reached as `0.0.0.0:<port>` (the local machine, but not a loopback address), so that only NO_PROXY
can keep those calls away from the proxy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.doctor import check_slack
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.proxies import exempt, is_loopback, proxy_for
from tests.browser.running import RunningPlayground
from tests.conftest import FakeClock
from tests.e2e.harness import BotServer, make_settings
from tests.fakes.recording_proxy import RecordingProxy


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProxy]:
    recording = RecordingProxy().start()
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, recording.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield recording
    recording.stop()


def test_the_playground_never_sends_its_token_or_operator_key_through_a_proxy(proxy: RecordingProxy) -> None:
    running = RunningPlayground().start()
    try:
        pg = running.pg
        assert pg is not None
        origin = {"Origin": pg.url}
        with httpx.Client(base_url=pg.url, timeout=10, headers=origin, trust_env=False) as client:
            answer = client.post("/pg/command", json={"user": "U0ADA", "channel": "C0GENERAL", "text": "list"})
            assert answer.status_code == 200
        # The list goes back through Slack's response_url after the bot asked DataOS for the keys.
        pg.slack.wait_for("response_url", where=lambda c: "nightly_loader" in str(c.params))
    finally:
        running.stop()
    assert proxy.seen == []


def _serve_behind_proxy(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                        tmp_path: Path) -> BotServer:
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"),
                             slack_api_url=slack.api_url.replace("127.0.0.1", "0.0.0.0"),
                             heimdall_url=heimdall.url.replace("127.0.0.1", "0.0.0.0"),
                             slack_app_token=slack.app_token, slack_signing_secret=None)
    server = BotServer(settings, clock, socket_mode=True)
    server.start()
    return server


def test_serve_honours_no_proxy_for_slack_its_websocket_and_dataos(
        proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch, slack: SlackFake, heimdall: HeimdallEmulator,
        clock: FakeClock, tmp_path: Path) -> None:
    monkeypatch.setenv("NO_PROXY", "example.com,0.0.0.0")
    server = _serve_behind_proxy(slack, heimdall, clock, tmp_path)
    try:
        slack.wait_for_socket()  # apps.connections.open, then the WebSocket itself
        rt = server.runtime
        assert server.call(rt.slack.auth_test())["ok"] is True
        assert server.call(rt._walk_client.users_list())["ok"] is True  # the directory walk's own client
        assert server.call(rt.dataos.list_users()) is not None
        assert server.call(check_slack(rt.settings))[0].status == "ok"  # `apikey-bot doctor`
    finally:
        server.stop()
    assert proxy.seen == []
    assert {"apps.connections.open", "auth.test", "users.list"} <= {c.method for c in slack.calls}


def test_without_no_proxy_the_same_calls_do_reach_the_proxy(
        proxy: RecordingProxy, slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
        tmp_path: Path) -> None:
    server = _serve_behind_proxy(slack, heimdall, clock, tmp_path)
    try:
        rt = server.runtime
        with pytest.raises(Exception):  # noqa: B017 (the proxy answers 502, whatever the client makes of it)
            server.call(rt.slack.auth_test())
        with pytest.raises(Exception):  # noqa: B017
            server.call(rt.dataos.list_users())
    finally:
        server.stop()
    assert any("0.0.0.0" in line and "/api/auth.test" in line for line in proxy.seen), proxy.seen
    assert any("0.0.0.0" in line and "/heimdall/" in line for line in proxy.seen), proxy.seen


def test_the_rule() -> None:
    env = {"HTTPS_PROXY": "http://proxy.corp:3128", "HTTP_PROXY": "http://proxy.corp:3080",
           "NO_PROXY": ".internal.example, slack.com:8443"}
    assert proxy_for("https://slack.com/api/", env) == "http://proxy.corp:3128"
    assert proxy_for("http://dataos.example/heimdall", env) == "http://proxy.corp:3080"
    assert proxy_for("wss://wss-primary.slack.com/link", env) == "http://proxy.corp:3128"
    assert proxy_for("https://dataos.internal.example/heimdall", env) is None
    assert proxy_for("https://internal.example/", env) is None
    assert proxy_for("https://slack.com:8443/api/", env) is None
    for url in ("http://127.0.0.1:4000/api/", "http://localhost:9/", "http://[::1]:80/", "http://127.1.2.3/"):
        assert proxy_for(url, env) is None, url
    assert proxy_for("https://slack.com/api/", {"NO_PROXY": "*", "HTTPS_PROXY": "http://p:1"}) is None
    assert proxy_for("https://slack.com/api/", {}) is None
    assert is_loopback("LOCALHOST.") and not is_loopback("0.0.0.0") and not is_loopback("example.com")
    assert not exempt("notinternal.example", None, "internal.example")
