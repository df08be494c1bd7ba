"""The playground's server without a browser: what it refuses, what it ignores, how its Slack behaves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.playground.blockkit import action_of, dispatch_triggers, dispatches, find_element, input_value
from bot.playground.clock import PlayClock
from bot.playground.controls import escape_command_text
from bot.playground.model import RespondTo
from bot.playground.people import People
from bot.playground.render import view_html
from bot.playground.run import ignored_settings
from bot.playground.slack import SlackFake
from bot.playground.workspace import Workspace
from tests.browser.running import RunningPlayground


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningPlayground]:
    # A real deployment's settings in the environment: the playground must not use any of them.
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-real-workspace-token")
    monkeypatch.setenv("HEIMDALL_URL", "https://dataos.real.example/heimdall")
    monkeypatch.setenv("DATAOS_APIKEY", "real-operator-key")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://real@db.example/prod")
    pg = RunningPlayground().start()
    yield pg
    pg.stop()


def test_real_settings_are_ignored(running: RunningPlayground) -> None:
    pg = running.pg
    assert pg is not None and pg.runtime is not None
    settings = pg.runtime.settings
    assert settings.heimdall_url == pg.emu.url and settings.slack_api_url == pg.url + "/api/"
    assert settings.slack_bot_token.get_secret_value().startswith("xoxb-playground-")
    assert settings.dataos_apikey.get_secret_value() == pg.operator_key
    assert settings.database_url.startswith("sqlite+aiosqlite:///") and str(pg.data_dir) in settings.database_url
    assert pg.url.startswith("http://127.0.0.1:")


def test_the_start_up_names_what_it_ignores(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("SLACK_SIGNING_SECRET=abc\nPORT=3000\n")
    names = ignored_settings({"HEIMDALL_URL": "x", "DATAOS_RUN_AS_APIKEY": "y", "HOME": "/root"}, dotenv)
    assert names == ["DATAOS_RUN_AS_APIKEY", "HEIMDALL_URL", "SLACK_SIGNING_SECRET"]


def test_the_controls_take_json_from_known_people_only(running: RunningPlayground) -> None:
    with httpx.Client(base_url=running.url, headers={"Origin": running.url}) as client:
        form = client.post("/pg/command", data={"user": "U0ADA", "channel": "D0ADA", "text": "list"})
        assert form.status_code == 415  # what a form on another web site could send
        stranger = client.post("/pg/command", json={"user": "U0EVIL", "channel": "D0ADA", "text": "list"})
        assert stranger.status_code == 400 and "people" in stranger.json()["error"]
        elsewhere = client.post("/pg/command", json={"user": "U0ADA", "channel": "D0BOB", "text": "list"})
        assert elsewhere.status_code == 400  # someone else's DM
        big = client.post("/pg/message", content=json.dumps({"user": "U0ADA", "text": "x" * 100_000}),
                          headers={"content-type": "application/json"})
        assert big.status_code == 413
        clock = client.post("/pg/clock", json={"days": -1})
        assert clock.status_code == 400
        fault = client.post("/pg/fault", json={"name": "dataos_down", "on": True})
        assert fault.json()["faults"]["dataos_down"] is True
        page = client.get("/")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for asset in (page.text, client.get("/static/app.js").text, client.get("/static/style.css").text):
            assert "://" not in asset  # nothing is fetched from elsewhere: no CDN, no fonts, no images
        assert client.get("/static/../run.py").status_code == 404


def test_the_page_gets_live_updates(running: RunningPlayground) -> None:
    with httpx.Client(base_url=running.url, timeout=10, headers={"Origin": running.url}) as client:
        with client.stream("GET", "/pg/stream", params={"user": "U0ADA"}) as stream:
            lines = stream.iter_lines()
            first = _next_state(lines)
            assert first["world"]["ready"] is True and first["conversations"]["C0GENERAL"] == ""
            assert client.post("/pg/command", json={"user": "U0ADA", "channel": "C0GENERAL", "text": "help"}).is_success
            while "Only visible to you" not in (state := _next_state(lines))["conversations"]["C0GENERAL"]:
                pass
            assert "/apikey" in state["conversations"]["C0GENERAL"]


def _next_state(lines: Iterator[str]) -> dict[str, Any]:
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "state":
            return dict(json.loads(line[6:]))
    raise AssertionError("the stream ended")


# ---- the Slack side, on its own ------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def workspace(ticks: Ticks) -> Workspace:
    ws = Workspace(PlayClock(), "http://127.0.0.1:9", "secret", "xoxb-t", trigger_clock=ticks)
    ws.add_persona("U0ADA", "Ada", "ada@acme.example", "Europe/Berlin", "")
    return ws


VIEW = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []}


def test_a_trigger_opens_one_modal_within_three_seconds() -> None:
    ticks = Ticks()
    ws = workspace(ticks)
    fresh, late = ws._trigger("U0ADA"), ws._trigger("U0ADA")
    ticks.now += 2.9
    assert ws._m_views_open({"trigger_id": fresh, "view": VIEW})["ok"] is True
    assert ws._m_views_open({"trigger_id": fresh, "view": VIEW})["error"] == "expired_trigger_id"  # used
    ticks.now += 0.2
    assert ws._m_views_open({"trigger_id": late, "view": VIEW})["error"] == "expired_trigger_id"
    assert ws._m_views_open({"trigger_id": "made.up", "view": VIEW})["error"] == "invalid_trigger_id"


def test_a_response_url_takes_five_posts_within_thirty_minutes() -> None:
    ticks = Ticks()
    ws = workspace(ticks)
    ws.start()
    ws.open_page("U0ADA")  # ephemeral replies are held by the person's open page
    try:
        url = ws._response_url(RespondTo("U0ADA", "C0GENERAL"))
        answers = [httpx.post(url, json={"text": f"reply {i}"}) for i in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [404] and answers[-1].text == "used_url"
        assert [m.text for m in ws.messages] == [f"reply {i}" for i in range(5)]
        late = ws._response_url(RespondTo("U0ADA", "C0GENERAL"))
        ticks.now += 30 * 60 + 1
        assert (httpx.post(late, json={"text": "late"}).text, ws.calls[-1].status) == ("expired_url", 404)
        assert httpx.post(f"{ws.url}/respond/made-up", json={"text": "x"}).status_code == 404
        assert len(ws.messages) == 5
    finally:
        ws.stop()


def test_dm_refused_is_slacks_own_error_and_nothing_is_shown() -> None:
    ws = workspace(Ticks())
    ws.dm_refused = True
    assert ws._m_chat_postMessage({"channel": "U0ADA", "text": "hi"})["error"] == "messages_tab_disabled"
    assert ws._m_chat_postEphemeral({"channel": "D0ADA", "user": "U0ADA", "text": "hi"})["error"] == \
        "messages_tab_disabled"
    assert ws._m_chat_postMessage({"channel": "C0GENERAL", "text": "hi"})["ok"] is True
    assert [m.channel for m in ws.messages] == ["C0GENERAL"]


def test_clicks_and_state_are_built_from_what_the_bot_drew() -> None:
    options = [{"text": {"type": "plain_text", "text": "7 days"}, "value": "168h"}]
    select = {"type": "static_select", "action_id": "pick", "options": options}
    blocks = [{"type": "actions", "block_id": "b1", "elements": [
        {"type": "button", "action_id": "go", "value": "key_1", "text": {"type": "plain_text", "text": "Go"}},
        select]}]
    button = find_element(blocks, "0.0", "b1", "go")
    assert button is not None and action_of(button, "b1", None)["value"] == "key_1"
    assert find_element(blocks, "0.1", "b1", "pick") is select
    assert action_of(select, "b1", "168h")["selected_option"] == options[0]
    assert action_of(select, "b1", "999h") is None  # the page cannot invent an option
    assert find_element(blocks, "0.0", "b1", "nope") is None  # not what the page drew there
    assert find_element(blocks, "0.0", "b2", "go") is None
    assert find_element(blocks, "0.5", "b1", "go") is None and find_element(blocks, "x", "b1", "go") is None
    assert input_value(select, "168h") == {"type": "static_select", "selected_option": options[0]}
    assert input_value({"type": "plain_text_input"}, "") == {"type": "plain_text_input", "value": None}
    assert input_value({"type": "plain_text_input"}, "x") == {"type": "plain_text_input", "value": "x"}


def test_a_text_input_sends_its_changes_only_when_its_block_says_so() -> None:
    element = {"type": "plain_text_input", "action_id": "name"}
    follows = {"type": "input", "block_id": "n", "dispatch_action": True, "element": dict(
        element, dispatch_action_config={"trigger_actions_on": ["on_character_entered"]})}
    blocks = [{"type": "input", "block_id": "quiet", "element": element}, follows,
              {"type": "input", "block_id": "e", "dispatch_action": True, "element": element}]
    assert [dispatch_triggers(b) for b in blocks] == [(), ("on_character_entered",), ("on_enter_pressed",)]
    assert not dispatches(blocks, "0.0") and dispatches(blocks, "1.0") and dispatches(blocks, "2.0")
    assert action_of(follows["element"], "n", "my_ke") == {"type": "plain_text_input", "action_id": "name",
                                                           "block_id": "n", "value": "my_ke"}
    html = view_html({"id": "V1", "blocks": blocks}, Workspace(PlayClock(), "http://x", "s", "t").viewer("U0ADA"))
    assert html.count('data-dispatch="character"') == 1 and html.count('data-dispatch="enter"') == 1


def test_command_text_is_escaped_as_slack_does() -> None:
    slack = SlackFake()
    slack.add_user("U0GRACE", "grace@acme.example", name="grace")
    slack.add_channel("C0DATAENG", "data-eng")
    slack.add_usergroup("S0DATAENG", "data-eng-oncall", ["U0GRACE"])
    assert escape_command_text("admin keys @grace <b> & x", slack) == "admin keys <@U0GRACE|grace> &lt;b&gt; &amp; x"
    assert escape_command_text("@nobody #nowhere a@b.c", slack) == "@nobody #nowhere a@b.c"
    assert escape_command_text("admin team etl-ingest #data-eng @grace @data-eng-oncall", slack) == (
        "admin team etl-ingest <#C0DATAENG|data-eng> <@U0GRACE|grace> <!subteam^S0DATAENG|@data-eng-oncall>")
    assert escape_command_text("@grace, @here.", slack) == "<@U0GRACE|grace>, <!here>."


def test_the_clock_only_moves_forward() -> None:
    clock = PlayClock()
    before = clock.now()
    clock.advance(7)
    assert (clock.now() - before).days == 7
    with pytest.raises(ValueError):
        clock.advance(-1)


class BotStandIn:
    """A peer that answers each signed submission with the next canned acknowledgement, over real HTTP."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        from aiohttp import web

        self.answers = answers
        self.payloads: list[dict[str, Any]] = []
        self.app = web.Application()

        async def events(request: web.Request) -> web.Response:
            from urllib.parse import parse_qs

            form = parse_qs(await request.text())
            self.payloads.append(json.loads(form["payload"][0]))
            answer = self.answers.pop(0)
            return web.json_response(answer) if answer else web.Response(status=200)

        self.app.router.add_post("/slack/events", events)


async def test_submissions_follow_the_response_action() -> None:
    from aiohttp import web

    form = {"type": "modal", "callback_id": "f", "title": {"type": "plain_text", "text": "Form"},
            "submit": {"type": "plain_text", "text": "Go"}, "blocks": [  # Slack takes no input without a submit
        {"type": "input", "block_id": "name", "label": {"type": "plain_text", "text": "Name"},
         "element": {"type": "plain_text_input", "action_id": "v"}},
        {"type": "input", "block_id": "pick", "label": {"type": "plain_text", "text": "Pick"},
         "element": {"type": "radio_buttons", "action_id": "v",
                     "options": [{"text": {"type": "plain_text", "text": "A"}, "value": "a"}]}}]}
    second = dict(form, title={"type": "plain_text", "text": "Second"})
    stand_in = BotStandIn([
        {"response_action": "errors", "errors": {"name": "Too short."}},
        {"response_action": "update", "view": dict(form, title={"type": "plain_text", "text": "Updated"})},
        {"response_action": "push", "view": second},
        {},  # an empty ack closes the view it answers
        {"response_action": "clear"},
    ])
    runner = web.AppRunner(stand_in.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    ticks = Ticks()
    ws = Workspace(PlayClock(), f"http://127.0.0.1:{port}", "secret", "xoxb-t", trigger_clock=ticks)
    ws.add_persona("U0ADA", "Ada", "ada@acme.example", "Europe/Berlin", "")
    people = People(ws)
    try:
        view_id = ws._m_views_open({"trigger_id": ws._trigger("U0ADA"), "view": form})["view"]["id"]
        modal = ws.modals["U0ADA"]
        await people.submit("U0ADA", view_id, {"name": {"v": "x"}, "pick": {"v": "a"}})
        sent = stand_in.payloads[-1]
        assert sent["type"] == "view_submission" and sent["view"]["id"] == view_id
        assert sent["view"]["state"]["values"] == {
            "name": {"v": {"type": "plain_text_input", "value": "x"}},
            "pick": {"v": {"type": "radio_buttons", "selected_option": form["blocks"][1]["element"]["options"][0]}}}
        assert modal.errors[view_id] == {"name": "Too short."} and modal.stack == [view_id]
        await people.submit("U0ADA", view_id, {})
        assert ws.views[view_id]["title"]["text"] == "Updated" and view_id not in modal.errors
        await people.submit("U0ADA", view_id, {})
        assert len(modal.stack) == 2 and ws.views[modal.stack[-1]]["title"]["text"] == "Second"
        await people.submit("U0ADA", modal.stack[-1], {})
        assert modal.stack == [view_id]
        await people.submit("U0ADA", view_id, {})
        assert modal.stack == []
    finally:
        await people.aclose()
        await runner.cleanup()


def _make_dry_run(*args: str, env: dict[str, str] | None = None) -> str:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(root), "playground", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_playground_takes_a_port() -> None:
    assert _make_dry_run("PORT=4100").endswith("apikey-bot playground --port 4100")
    assert _make_dry_run("HOST=0.0.0.0").endswith("apikey-bot playground --host 0.0.0.0")
    # A PORT in the environment is serve's setting: the playground keeps its own default.
    assert _make_dry_run(env={"PORT": "3000"}).endswith("apikey-bot playground")
