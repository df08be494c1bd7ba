"""#23.1 and #23.15 in the playground: as Grace, `/apikey admin keys` of Ada, Revoke on her third key.

The playground's Slack sends the payload of the element actually clicked (its block id and value);
the bot names each key exactly, revokes that one, and tells Ada in a DM who revoked it and when.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from tests.browser.running import RunningPlayground


def test_in_the_playground_grace_revokes_the_key_she_clicked_and_ada_is_told() -> None:
    running = RunningPlayground().start()
    pg = running.pg
    assert pg is not None
    try:
        with httpx.Client(base_url=running.url, timeout=10, headers={"Origin": running.url}) as client, \
                client.stream("GET", "/pg/stream", params={"user": "U0GRACE"}) as stream:
            states = _states(stream.iter_lines())
            next(states)
            sent = client.post("/pg/command", json={"user": "U0GRACE", "channel": "C0GENERAL",
                                                    "text": "admin keys U0ADA"})
            assert sent.is_success
            _until(states, lambda s: "notebook_sandbox" in s["conversations"]["C0GENERAL"])
            message = running.call(lambda: next(m for m in pg.slack.messages if m.ephemeral_to == "U0GRACE"
                                                and "admin_revoke" in json.dumps(m.blocks)))
            at, block = next((i, b) for i, b in enumerate(message.blocks) if b["type"] == "actions"
                             and "notebook_sandbox" in b["elements"][0]["value"])
            assert len([b for b in message.blocks if b["type"] == "actions"]) == 4 and at > 2  # not the first row
            clicked = client.post("/pg/action", json={"user": "U0GRACE", "el": f"{at}.0", "message_id": message.id,
                                                      "block_id": block["block_id"], "action_id": "admin_revoke"})
            assert clicked.is_success, clicked.text
            _until(states, lambda s: "Revoked" in s["conversations"]["C0GENERAL"])
        tokens = running.call(lambda: sorted(pg.emu.tokens["ada"]))
        assert tokens == ["ci_pipeline", "dashboard_reader", "nightly_loader"]
        told = running.call(lambda: [m.text for m in pg.slack.messages if m.channel == pg.slack.dm("U0ADA")])
        assert any("revoked your DataOS API key *notebook_sandbox*" in t for t in told)
    finally:
        running.stop()


def _states(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "state":
            yield dict(json.loads(line[6:]))


def _until(states: Iterator[dict[str, Any]], done: Callable[[dict[str, Any]], bool]) -> None:
    """Read the page's live updates (event-driven) until one satisfies `done`."""
    for state in states:
        if done(state):
            return
    raise AssertionError("the stream ended")
