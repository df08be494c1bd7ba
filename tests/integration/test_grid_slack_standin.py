"""The Slack stand-in as an Enterprise Grid organisation is as strict as Slack, through slack_sdk's own client:
an organisation token must name the workspace for users.list (and only a granted one), rate limits count per
workspace, auth.teams.list lists the granted workspaces, a channel of a workspace not granted is out of reach.
A single workspace answers as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.playground.slack import SlackFake


@pytest.fixture
def web(slack: SlackFake) -> Iterator[WebClient]:
    yield WebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])


def error_of(call: object) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()  # type: ignore[operator]
    return str(caught.value.response["error"])


def test_a_single_workspace_answers_as_before(slack: SlackFake, web: WebClient) -> None:
    answer = web.auth_test()
    assert answer["team_id"] == "T0123" and "is_enterprise_install" not in answer.data  # type: ignore[operator]
    assert len(web.users_list()["members"]) == 4
    assert [t["id"] for t in web.auth_teams_list()["teams"]] == ["T0123"]


def test_an_organisation_token_must_name_a_granted_workspace(slack: SlackFake, web: WebClient) -> None:
    slack.make_org()
    slack.add_workspace("T0456", "Labs")
    slack.add_workspace("T0789", "Later", granted=False)
    slack.in_org("W0ZOE", "T0456", "T0789", email="zoe@example.com")
    answer = web.auth_test()
    assert answer["enterprise_id"] == "E0ACME" and answer["is_enterprise_install"] is True
    assert error_of(lambda: web.users_list()) == "missing_argument"
    assert error_of(lambda: web.users_list(team_id="T0789")) == "team_access_not_granted"
    assert [u["id"] for u in web.users_list(team_id="T0456")["members"]] == ["W0ZOE"]
    assert web.users_list(team_id="T0123")["members"][0]["enterprise_user"]["teams"] == ["T0123"]
    assert {t["id"] for t in web.auth_teams_list()["teams"]} == {"T0123", "T0456"}
    slack.grant("T0789")
    assert {t["id"] for t in web.auth_teams_list()["teams"]} == {"T0123", "T0456", "T0789"}
    slack.revoke("T0456")
    assert error_of(lambda: web.users_list(team_id="T0456")) == "team_access_not_granted"


def test_rate_limits_count_per_workspace_on_an_organisation_token(slack: SlackFake, web: WebClient) -> None:
    slack.make_org()
    slack.add_workspace("T0456", "Labs")
    slack.rate_limits = {"users.list": (2, 60.0)}
    for _ in range(2):
        web.users_list(team_id="T0123")
    assert error_of(lambda: web.users_list(team_id="T0123")) == "ratelimited"
    assert web.users_list(team_id="T0456")["ok"]  # another workspace: a budget of its own


def test_a_channel_of_a_workspace_not_granted_is_out_of_reach(slack: SlackFake, web: WebClient) -> None:
    slack.make_org()
    slack.add_workspace("T0456", "Labs", granted=False)
    slack.add_channel("C0LABS", "labs")
    slack.channel_in("C0LABS", "T0456")
    assert web.conversations_info(channel="C0456")["channel"]["context_team_id"] == "T0123"
    assert error_of(lambda: web.conversations_info(channel="C0LABS")) == "channel_not_found"
    assert error_of(lambda: web.chat_postMessage(channel="C0LABS", text="hi")) == "channel_not_found"
    slack.grant("T0456")
    assert web.conversations_info(channel="C0LABS")["channel"]["context_team_id"] == "T0456"
