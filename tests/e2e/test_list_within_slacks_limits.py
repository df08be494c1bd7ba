"""`/apikey list` as real Slack takes it: a slash command's answers cannot replace one another, so no
progress line is left above the list unless the answer is slow; and the list fits in at most three posts
to the command's response_url (Slack takes five), however many application users the person owns."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from bot.store.teams import Team
from tests.e2e.conftest import Bot
from tests.e2e.harness import text_of

OWNER = "U0ALICE"


def posts(bot: Bot) -> list[str]:
    return [text_of(c) for c in bot.slack.calls_to("response_url")]


def test_a_quick_list_is_the_only_answer_with_no_progress_line_left_above_it(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "k", hours=48)
    ack = bot.user.command("list")
    assert ack.status_code == 200 and not ack.content.strip()  # Slack shows nothing it could not replace later
    listed = bot.slack.wait_for("response_url")[0]
    assert "Your DataOS API keys" in text_of(listed) and "Looking up" not in text_of(listed)
    bot.user.command("whoami")  # the next answer: nothing else came from the list meanwhile
    bot.slack.wait_for("response_url", 2)
    assert not any("Looking up" in p for p in posts(bot))


def test_a_slow_list_says_it_is_looking_after_a_moment_then_answers_below_it(bot: Bot) -> None:
    bot.slack.hold("users.info")  # who Alice is takes a while to find out
    ack = bot.user.command("list")
    assert not ack.content.strip()
    bot.slack.wait_for("held:users.info")
    assert posts(bot) == []  # not yet: 1.5 s have not passed
    bot.clock.advance(seconds=1.6)
    progress = bot.slack.wait_for("response_url")[0]
    assert "Looking up your keys…" in text_of(progress)
    bot.slack.release()
    answered = bot.slack.wait_for("response_url", 2)
    assert "Your DataOS API keys" in text_of(answered[1]) or "no DataOS API keys" in text_of(answered[1])


@pytest.mark.parametrize("teams", [2, 9, 30])
def test_an_owner_of_many_teams_gets_every_team_within_three_posts(bot: Bot, teams: int) -> None:
    apps = [f"app-{i:02d}" for i in range(teams)]
    for app in apps:
        bot.heimdall.add_user(app, None, type="application", tags=["roles:id:app-user", f"users:id:{app}"])
        for k in range(3):
            bot.heimdall.add_token(app, f"{app.replace('-', '_')}_key_{k}", hours=48 + k)
        bot.server.call(bot.runtime.teams.repo.put(Team(app, "C0GENERAL", (OWNER,), (), "U0ADMIN",
                                                        bot.clock.now())))
    bot.user.command("list", user=OWNER)
    first = bot.slack.wait_for("response_url")[0]
    assert "Your DataOS API keys" in text_of(first) or "no DataOS API keys" in text_of(first)
    bot.slack.wait_for("response_url", where=lambda c: apps[-1] in text_of(c))  # the list's last post
    bot.user.command("whoami", user=OWNER)  # answered after anything the list could still have sent
    bot.slack.wait_for("response_url", where=lambda c: "You are DataOS user" in text_of(c))
    replies = [c for c in bot.slack.calls_to("response_url") if "Keys of " in text_of(c) or "more application" in
               text_of(c)]
    assert 1 <= len(replies) <= 2, [text_of(c)[:200] for c in replies]  # with "Your keys": at most 3 posts
    assert all(c.result.get("ok") for c in bot.slack.calls_to("response_url"))  # Slack took every one
    everything = "\n".join(text_of(c) for c in replies)
    for app in apps:  # each one listed, or named in the closing line: none dropped in silence
        assert f"Keys of {app}" in everything or f"`{app}`" in everything
    if teams > 12:  # past what two messages hold (here 6 teams of 3 keys each), the rest are named
        assert "/apikey list &lt;app-user&gt;" in everything and "more application users you own" in everything


def test_a_reply_slack_refuses_is_logged_not_silent(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    url = bot.slack.response_url("cmd")
    for i in range(5):  # the URL's five posts are used up
        assert httpx.post(url, json={"text": f"earlier {i}"}).status_code == 200
    bot.slack.expect_refusals("used_url")
    with caplog.at_level(logging.WARNING, logger="bot.slack.common"):
        bot.user.command("whoami", response_url=url)
        refused = bot.slack.wait_for("response_url", 6)[5]
        assert refused.result["error"] == "used_url"
        bot.user.command("help")  # a later request: the warning of the one before has been logged by then
    assert any("Slack refused a reply to a response_url (HTTP 404, used_url)" in r.getMessage()
               for r in caplog.records), json.dumps([r.getMessage() for r in caplog.records])
