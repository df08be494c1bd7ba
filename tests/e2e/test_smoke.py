from __future__ import annotations

import json

from tests.e2e.conftest import Bot


def test_health_and_ready(bot: Bot) -> None:
    assert bot.user.http.get("/healthz").json() == {"status": "ok"}
    r = bot.user.http.get("/readyz")
    # the directory loads in the background right after start-up
    bot.runtime.directory  # noqa: B018
    assert r.status_code in (200, 503)


def test_help(bot: Bot) -> None:
    r = bot.user.command("")
    assert r.status_code == 200
    body = r.json()
    assert "list" in json.dumps(body)
