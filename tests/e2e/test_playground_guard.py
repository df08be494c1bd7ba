"""The playground's own safety (#20 F.28) and where its Slack must behave as Slack does (#23): only its
own host and page are served, a click sends the element clicked, ephemeral messages live only as long
as the page that got them, and deactivating a member reaches the bot."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.playground.blockkit import with_block_ids
from bot.playground.clock import PlayClock
from bot.playground.people import People
from bot.playground.workspace import INSPECTOR_ROWS, Workspace
from tests.browser.running import RunningPlayground


@pytest.fixture
def running() -> Iterator[RunningPlayground]:
    pg = RunningPlayground().start()
    yield pg
    pg.stop()


def _client(running: RunningPlayground, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=running.url, timeout=10, headers=headers, trust_env=False)


def test_only_its_own_host_and_port_are_served(running: RunningPlayground) -> None:
    port = running.url.rsplit(":", 1)[1]
    evil = f"evil.example:{port}"  # what a DNS-rebinding page's requests say
    with _client(running, Host=evil, Origin=f"http://{evil}") as client:
        for path in ("/", "/static/app.js", "/pg/ready", "/pg/stream?user=U0ADA"):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert "nightly_loader" not in answer.text
        assert client.post("/pg/fault", json={"name": "dm_refused", "on": True}).status_code == 403
        assert client.post("/pg/command", json={"user": "U0ADA", "channel": "D0ADA", "text": "list"}).status_code \
            == 403
    with _client(running, Host=f"127.0.0.1:{int(port) + 1}") as client:
        assert client.get("/").status_code == 403  # the right name, another port
    with _client(running, Host=f"localhost:{port}") as client:
        assert client.get("/").status_code == 200
    assert running.call(lambda: running.pg.slack.dm_refused) is False  # type: ignore[union-attr]


def test_the_controls_and_the_stream_answer_only_the_playgrounds_own_page(running: RunningPlayground) -> None:
    fault = {"name": "dm_refused", "on": True}
    with _client(running, Origin="http://evil.example") as client:
        assert client.post("/pg/fault", json=fault).status_code == 403
        assert client.get("/pg/stream", params={"user": "U0ADA"}).status_code == 403
    with _client(running) as client:  # no Origin: browsers send one with every POST
        assert client.post("/pg/fault", json=fault).status_code == 403
    with _client(running, **{"Sec-Fetch-Site": "cross-site"}) as client:  # an <img> or <script> elsewhere
        assert client.get("/pg/stream", params={"user": "U0ADA"}).status_code == 403
    assert running.call(lambda: running.pg.slack.dm_refused) is False  # type: ignore[union-attr]
    with _client(running, Origin=running.url) as client:
        assert client.post("/pg/fault", json=fault).status_code == 200
    assert running.call(lambda: running.pg.slack.dm_refused) is True  # type: ignore[union-attr]


def _states(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "state":
            yield dict(json.loads(line[6:]))


def test_a_reloaded_page_no_longer_shows_ephemeral_messages(running: RunningPlayground) -> None:
    with _client(running, Origin=running.url) as client:
        with client.stream("GET", "/pg/stream", params={"user": "U0ADA"}) as stream:
            states = _states(stream.iter_lines())
            next(states)
            assert client.post("/pg/command", json={"user": "U0ADA", "channel": "C0GENERAL", "text": "list"}).is_success
            while "nightly_loader" not in next(states)["conversations"]["C0GENERAL"]:
                pass
        # The page is reloaded: a new stream. Slack's client forgets ephemeral messages on reload.
        with client.stream("GET", "/pg/stream", params={"user": "U0ADA"}) as stream:
            first = next(_states(stream.iter_lines()))
            assert "nightly_loader" not in first["conversations"]["C0GENERAL"]
    # ... and nothing of them is kept once no page holds them (the server notices the page went away).
    deadline = time.monotonic() + 60  # a ceiling only: the server notices as soon as the stream is gone
    while running.call(lambda: [m for m in running.pg.slack.messages if m.ephemeral_to]):  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the reloaded page's ephemeral messages are still kept"
        running.call(lambda: running.pg.slack.changed())  # type: ignore[union-attr]


def test_the_apps_messages_tab_is_read_only(running: RunningPlayground) -> None:
    """The manifest makes the Messages tab read-only: Slack's client then takes neither messages nor
    slash commands there."""
    with _client(running, Origin=running.url) as client:
        for control, typed in (("message", "hello bot"), ("command", "help")):
            answer = client.post(f"/pg/{control}", json={"user": "U0ADA", "channel": "D0ADA", "text": typed})
            assert answer.status_code == 400
            assert "Sending messages to this app has been turned off" in answer.json()["error"]
        assert client.post("/pg/message", json={"user": "U0ADA", "channel": "C0GENERAL", "text": "hi"}).is_success
    texts = running.call(lambda: [m.text for m in running.pg.slack.messages])  # type: ignore[union-attr]
    assert "hello bot" not in texts
    assert not [r for r in running.call(lambda: list(running.pg.slack.inspector))  # type: ignore[union-attr]
                if r["what"].startswith("/apikey")]  # nothing reached the bot


def test_deactivating_a_member_brings_the_admins_notice_and_reactivating_lets_them_act(
        running: RunningPlayground) -> None:
    pg = running.pg
    assert pg is not None
    with _client(running, Origin=running.url) as client:
        assert client.post("/pg/member", json={"user": "U0ADA", "active": False}).is_success
        notice = pg.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == "U0GRACE")[0]
        assert "was deactivated in Slack" in str(notice.params["text"]) and "4 DataOS API keys" in notice.params["text"]
        refused = client.post("/pg/command", json={"user": "U0ADA", "channel": "D0ADA", "text": "list"})
        assert refused.status_code == 400 and "deactivated" in refused.json()["error"]
        assert client.post("/pg/member", json={"user": "U0ADA", "active": True}).is_success
        events = [r for r in running.call(lambda: list(pg.slack.inspector)) if r["what"].startswith("user_change")]
        while len(events) < 2:
            events = [r for r in running.call(lambda: list(pg.slack.inspector)) if r["what"].startswith("user_change")]
        assert '"deleted": false' in events[-1]["request"] and events[-1]["status"] == "200"
        assert client.post("/pg/command", json={"user": "U0ADA", "channel": "C0GENERAL", "text": "help"}).is_success


def test_a_permalink_is_slacks_and_names_a_message_that_exists(running: RunningPlayground) -> None:
    pg = running.pg
    assert pg is not None
    ts = running.call(lambda: pg.slack._post("C0GENERAL", "U0ADA", {"text": "hello"}).ts)
    link = running.call(lambda: pg.slack._m_chat_getPermalink({"channel": "C0GENERAL", "message_ts": ts}))
    assert link["permalink"] == f"https://acme.slack.com/archives/C0GENERAL/p{ts.replace('.', '')}"
    gone = running.call(lambda: pg.slack._m_chat_getPermalink({"channel": "C0GENERAL", "message_ts": "1.000001"}))
    assert gone == {"ok": False, "error": "message_not_found"}


# ---- the element clicked, as Slack sends it -------------------------------------------------------


def test_every_block_gets_an_id_of_its_own() -> None:
    blocks = with_block_ids([{"type": "section"}, {"type": "actions", "block_id": "mine"}, {"type": "actions"}])
    ids = [b["block_id"] for b in blocks]
    assert ids[1] == "mine" and len(set(ids)) == 3 and all(ids)


async def test_a_click_sends_the_payload_of_the_element_clicked() -> None:
    """Two rows that repeat one action id, with no block ids (as the bot's admin list draws them):
    the second row's button sends the second row's value."""
    received: list[dict[str, Any]] = []

    async def events(request: web.Request) -> web.Response:
        received.append(json.loads((await request.post())["payload"]))  # type: ignore[arg-type]
        return web.Response()

    app = web.Application()
    app.router.add_post("/slack/events", events)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ws = Workspace(PlayClock(), f"http://127.0.0.1:{runner.addresses[0][1]}", "secret", "xoxb-t")
    ws.add_persona("U0GRACE", "Grace", "grace@acme.example", "America/Los_Angeles", "")
    ws.open_page("U0GRACE")
    people = People(ws)

    def row(name: str) -> dict[str, Any]:
        return {"type": "actions", "elements": [{"type": "button", "action_id": "admin_revoke", "value": name,
                                                "text": {"type": "plain_text", "text": "Revoke"}}]}

    try:
        ws._m_chat_postEphemeral({"channel": "D0GRACE", "user": "U0GRACE",
                                  "blocks": [row("nightly_loader"), row("notebook_sandbox")]})
        message = ws.messages[-1]
        second = message.blocks[1]["block_id"]
        assert second and second != message.blocks[0]["block_id"]
        refused = await people.click("U0GRACE", "1.0", second, "admin_revoke", message_id=message.id)
        assert refused is None
        assert received[-1]["actions"][0]["value"] == "notebook_sandbox"
        assert received[-1]["actions"][0]["block_id"] == second
        # What the page drew there is no longer there: nothing is sent rather than another button.
        assert await people.click("U0GRACE", "1.0", "other", "admin_revoke", message_id=message.id) is not None
        assert len(received) == 1
    finally:
        await people.aclose()
        await runner.cleanup()


def test_the_inspector_says_when_it_dropped_old_rows(running: RunningPlayground) -> None:
    pg = running.pg
    assert pg is not None

    def flood() -> dict[str, Any]:
        before = len(pg.slack.inspector) + pg.slack.inspector_dropped
        for n in range(INSPECTOR_ROWS + 5):
            pg.slack.note("bot → Slack", f"call {n}", "ok", 1.0, {}, {})
        return {"before": before, **pg.world()["inspector"]}

    seen = running.call(flood)
    assert seen["kept"] == INSPECTOR_ROWS and seen["dropped"] == seen["before"] + 5
    assert running.call(lambda: len(pg.slack.inspector)) == INSPECTOR_ROWS
