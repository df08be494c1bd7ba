"""The Slack stand-in refuses what Slack refuses, over HTTP, through slack_sdk's own client: Block Kit
limits, a response_url's five posts, ephemeral messages to people not in the channel, updates of
messages that are not the bot's, and Slack Connect channels as conversations.info shows them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.playground.slack import SlackFake
from tests.conftest import FakeClock


@pytest.fixture
def web(slack: SlackFake) -> Iterator[WebClient]:
    yield WebClient(token=slack.token, base_url=slack.api_url)
    slack.expect_refusals("invalid_blocks", "invalid_arguments", "msg_too_long", "msg_blocks_too_long", "no_text",
                          "used_url", "cant_update_message")  # refusing is what these tests are about


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(text: str = "Go", value: str = "v", action_id: str = "go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id, "value": value,
            **extra}


def select(n: int) -> dict[str, Any]:
    options = [{"text": {"type": "plain_text", "text": f"o{i}"}, "value": str(i)} for i in range(n)]
    return {"type": "input", "block_id": "pick", "label": {"type": "plain_text", "text": "Pick"},
            "element": {"type": "static_select", "action_id": "p", "options": options}}


def modal(blocks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": "Title"},
            "submit": {"type": "plain_text", "text": "Go"}, "blocks": blocks, **extra}


def refused(call: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()
    return str(caught.value.response["error"])


def post(web: WebClient, blocks: list[dict[str, Any]], text: str = "fallback") -> Any:
    return lambda: web.chat_postMessage(channel="C0456", text=text, blocks=blocks)


@pytest.mark.parametrize(("blocks", "error"), [
    ([section("x" * 3001)], "invalid_blocks"),
    ([section("x")] * 51, "invalid_blocks"),
    ([{"type": "actions", "elements": [button("b" * 76)]}], "invalid_blocks"),
    ([{"type": "actions", "elements": [button(value="v" * 2001)]}], "invalid_blocks"),
    ([{"type": "actions", "elements": [button(confirm={
        "title": {"type": "plain_text", "text": "Sure?"}, "text": {"type": "mrkdwn", "text": "c" * 301},
        "confirm": {"type": "plain_text", "text": "Yes"}, "deny": {"type": "plain_text", "text": "No"}})]}],
     "invalid_blocks"),
    ([section("a", block_id="same"), section("b", block_id="same")], "invalid_blocks"),
    ([section("a", block_id="b" * 256)], "invalid_blocks"),
    ([{"type": "actions", "elements": [button(action_id="a" * 256)]}], "invalid_blocks"),
    ([{"type": "actions", "elements": [button(), button()]}], "invalid_blocks"),  # two action ids alike
    ([{"type": "sectionn", "text": {"type": "mrkdwn", "text": "typo"}}], "invalid_blocks"),
    ([section("x", colour="red")], "invalid_blocks"),  # a field Block Kit does not have
    ([section("")], "invalid_blocks"),
    ([section("x" * 2900)] * 5, "msg_blocks_too_long"),  # every section fits; the message does not
])
def test_a_message_slack_refuses_is_refused_and_lost(slack: SlackFake, web: WebClient, blocks: list[dict[str, Any]],
                                                     error: str) -> None:
    assert refused(post(web, blocks)) == error
    assert slack.delivered("chat.postMessage") == []
    assert slack.refused[-1].result["response_metadata"]["messages"]  # Slack says where, as it does


def test_a_message_at_every_limit_is_taken(slack: SlackFake, web: WebClient) -> None:
    full = [section("x" * 3000), *[section("y")] * 48,
            {"type": "actions", "elements": [button("b" * 75, value="v" * 2000)]}]
    assert web.chat_postMessage(channel="C0456", text="t", blocks=full)["ok"] is True


def test_text_too_long_and_no_text_are_refused(web: WebClient) -> None:
    assert refused(lambda: web.chat_postMessage(channel="C0456", text="x" * 40_001)) == "msg_too_long"
    assert refused(lambda: web.chat_postMessage(channel="C0456", text="")) == "no_text"


@pytest.mark.parametrize(("view", "error"), [
    (modal([section("x")] * 101), "invalid_arguments"),
    (modal([select(101)]), "invalid_arguments"),
    (modal([section("x")], title={"type": "plain_text", "text": "t" * 25}), "invalid_arguments"),
    (modal([section("x")], close={"type": "plain_text", "text": "c" * 25}), "invalid_arguments"),
    (modal([section("x")], private_metadata="m" * 3001), "invalid_arguments"),
    (modal([section("x" * 3001)]), "invalid_arguments"),
    (dict(modal([select(3)]), submit=None), "invalid_arguments"),  # an input needs a submit button
    (modal([section("x")], id="V1", hash="1.2"), "invalid_arguments"),  # Slack's own fields, sent back
])
def test_a_view_slack_refuses_is_refused(slack: SlackFake, web: WebClient, view: dict[str, Any], error: str) -> None:
    slack.views["V9"] = {"id": "V9", "hash": "h"}
    view = {k: v for k, v in view.items() if v is not None}
    assert refused(lambda: web.views_update(view_id="V9", view=view)) == error
    assert refused(lambda: web.views_open(trigger_id=slack.trigger("t.1"), view=view)) == error
    assert slack.delivered("views.open") == []


def test_a_view_at_its_limits_is_taken_and_home_holds_100_blocks(slack: SlackFake, web: WebClient) -> None:
    view = modal([select(100), *[section("x")] * 99], private_metadata="m" * 3000,
                 title={"type": "plain_text", "text": "t" * 24})
    assert web.views_open(trigger_id=slack.trigger("t.2"), view=view)["ok"] is True
    assert web.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": [section("x")] * 100})["ok"] is True
    assert refused(lambda: web.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": [section("x")] * 101})
                   ) == "invalid_arguments"


def test_a_response_url_takes_five_posts_in_thirty_minutes(slack: SlackFake, web: WebClient, clock: FakeClock) -> None:
    url = slack.response_url("cmd")
    answers = [httpx.post(url, json={"text": f"post {i}"}) for i in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [404]
    assert answers[-1].text == "used_url"
    fresh = slack.response_url("action")
    clock.advance(minutes=31)
    late = httpx.post(fresh, json={"text": "too late"})
    assert (late.status_code, late.text) == (404, "expired_url")


def test_a_response_url_refuses_invalid_blocks_without_using_a_post(slack: SlackFake, web: WebClient) -> None:
    url = slack.response_url("cmd")
    bad = httpx.post(url, json={"text": "t", "blocks": [section("x" * 3001)]})
    assert (bad.status_code, bad.text) == (400, "invalid_blocks")
    assert [httpx.post(url, json={"text": "ok"}).status_code for _ in range(5)] == [200] * 5


def test_replace_original_does_nothing_on_a_slash_commands_url(slack: SlackFake, web: WebClient) -> None:
    httpx.post(slack.response_url("cmd"), json={"text": "list", "replace_original": True})
    httpx.post(slack.response_url("action"), json={"text": "done", "replace_original": True})
    httpx.post(slack.response_url("cmd"), json={"delete_original": True})
    effects = [c.result["effect"] for c in slack.calls_to("response_url")]
    assert effects == ["added", "replaced", "ignored"]  # a command's answer stays; a post only adds one


def test_ephemeral_messages_follow_the_channels_members(slack: SlackFake, web: WebClient) -> None:
    slack.add_channel("C0TEAM", "team", members=["U0ALICE"])
    slack.add_channel("C0OLD", "old", archived=True)
    slack.add_channel("C0ANN", "announcements", read_only=True)
    slack.add_channel("C0QUIET", "quiet", restricted=True)

    def ephemeral(channel: str, user: str = "U0ALICE") -> Any:
        return lambda: web.chat_postEphemeral(channel=channel, user=user, text="hi")

    assert web.chat_postEphemeral(channel="C0TEAM", user="U0ALICE", text="hi")["ok"] is True
    assert refused(ephemeral("C0TEAM", "U0BOB")) == "user_not_in_channel"
    assert refused(ephemeral("C0NOWHERE")) == "channel_not_found"
    assert refused(ephemeral("C0OLD")) == "is_archived"
    assert refused(ephemeral("C0ANN")) == "restricted_action"
    assert refused(ephemeral("C0QUIET")) == "restricted_action"
    assert refused(ephemeral("D0BOB")) == "user_not_in_channel"  # Bob's DM with the bot is not Alice's
    assert web.chat_postEphemeral(channel="D0ALICE", user="U0ALICE", text="hi")["ok"] is True
    assert refused(lambda: web.chat_postMessage(channel="C0NOWHERE", text="hi")) == "channel_not_found"


def test_chat_update_only_on_the_bots_own_messages_that_exist(slack: SlackFake, web: WebClient) -> None:
    posted = web.chat_postMessage(channel="U0ALICE", text="reminder")
    channel, ts = str(posted["channel"]), str(posted["ts"])
    assert web.chat_update(channel=channel, ts=ts, text="renewed")["ok"] is True
    assert refused(lambda: web.chat_update(channel=channel, ts="1700000000.000100", text="x")) == "message_not_found"
    slack.add_message("C0456", "1700000099.000100", "U0BOB", "a person's message")
    assert refused(lambda: web.chat_update(channel="C0456", ts="1700000099.000100", text="x")) == "cant_update_message"
    eph = web.chat_postEphemeral(channel="C0456", user="U0ALICE", text="only you")
    assert refused(lambda: web.chat_update(channel="C0456", ts=str(eph["message_ts"]), text="x")) == "message_not_found"
    assert refused(lambda: web.chat_update(channel="U0ALICE", ts=ts, text="x")) == "channel_not_found"


def test_conversations_info_shows_slack_connect_and_read_only(slack: SlackFake, web: WebClient) -> None:
    slack.add_channel("C0EXT", "shared-with-vendor", ext_shared=True, connected_team_ids=["T0VENDOR"])
    slack.add_channel("C0ANN", "announcements", read_only=True)
    ext = web.conversations_info(channel="C0EXT")["channel"]
    assert (ext["is_ext_shared"], ext["is_shared"], ext["connected_team_ids"]) == (True, True, ["T0123", "T0VENDOR"])
    ann = web.conversations_info(channel="C0ANN")["channel"]
    assert (ann["is_read_only"], ann["is_shared"], ann["is_ext_shared"]) == (True, False, False)
    assert not any(k.startswith("_") for k in ann)


def test_a_refusal_fails_the_test_unless_it_is_expected(clock: FakeClock) -> None:
    fake = SlackFake(clock=clock.monotonic)
    fake.add_channel("C0456", "general")
    fake.start()
    try:
        bad = httpx.post(fake.api_url + "chat.postMessage", headers={"Authorization": f"Bearer {fake.token}"},
                         json={"channel": "C0456", "text": "t", "blocks": [section("x" * 3001)]})
        assert bad.json()["error"] == "invalid_blocks"
        with pytest.raises(AssertionError, match=r"postMessage: invalid_blocks .*3000 characters.*/blocks/0"):
            fake.check_refusals()
        fake.expect_refusals("invalid_blocks")
        fake.check_refusals()
    finally:
        fake.stop()


def test_an_answer_over_http_is_checked_as_slack_checks_it(slack: SlackFake) -> None:
    assert slack.check_answer("ack:command", {"text": "t", "blocks": [section("x")]}) is None
    assert slack.check_answer("ack:view_submission", {"response_action": "errors", "errors": {"b": "no"}}) is None
    bad_view = {"response_action": "update", "view": modal([section("x")] * 101)}
    refusal = slack.check_answer("ack:view_submission", bad_view)
    assert refusal is not None and refusal.error == "invalid_arguments"
    assert slack.unexpected_refusals()[-1].method == "ack:view_submission"
    slack.expect_refusals("invalid_arguments")
    assert json.dumps(refusal.answer())


def test_a_submission_answered_with_update_gives_the_modal_a_new_hash(slack: SlackFake, web: WebClient) -> None:
    """Slack replaces a modal whose submission is answered `response_action: update`, with a new hash: a redraw
    the bot computed from the form before it was submitted (the old hash) is refused, not drawn over it."""
    opened = web.views_open(trigger_id=slack.trigger("t.sub"), view=modal([select(3)]))["view"]
    slack.submission_answered(opened["id"], {"response_action": "update",
                                             "view": dict(modal([section("Creating your key…")]), submit=None)})
    assert slack.views[opened["id"]]["hash"] != opened["hash"]
    assert refused(lambda: web.views_update(view_id=opened["id"], hash=opened["hash"], view=modal([select(3)]))
                   ) == "hash_conflict"
    slack.submission_answered(opened["id"], {"response_action": "clear"})
    assert refused(lambda: web.views_update(view_id=opened["id"], view=modal([select(3)]))) == "not_found"
