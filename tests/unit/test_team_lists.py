"""The team part of `/apikey list` (`team_lists`): however many application users a person owns, at most
two messages that Slack takes, every team shown or named, and placeholders escaped for mrkdwn."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.dataos import Token
from bot.playground.heimdall_model import make_key_value
from bot.slack.blocks.teams import TeamSection, confirm_text, team_lists
from bot.store.teams import Team
from tests.unit.test_blocks import check_message

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def token(name: str, hours: int = 72) -> Token:
    return Token.model_validate({"name": name, "expiration": (NOW + timedelta(hours=hours)).isoformat(),
                                 "data": {"apikey": make_key_value(name)}})


def team(app: str) -> Team:
    return Team(app, "C0DATA", ("U1",), (), "U2", NOW)


@pytest.mark.parametrize(("teams", "keys", "name_length"), [(1, 25, 10), (1, 20, 200), (3, 8, 40), (12, 3, 20),
                                                             (40, 6, 120)])
def test_every_team_is_shown_or_named_in_at_most_two_messages_slack_takes(teams: int, keys: int,
                                                                          name_length: int) -> None:
    apps = [f"app-{i:02d}-" + "x" * name_length for i in range(teams)]
    sections = [TeamSection(team(a), [token(f"k{j}_" + "n" * name_length, 24 + j) for j in range(keys)])
                for a in apps]
    messages = team_lists(sections, NOW)
    assert 1 <= len(messages) <= 2
    for message in messages:
        check_message(message)
    text = json.dumps([m.blocks for m in messages])
    listed = text.count("*Keys of app-")
    more = re.search(r"and (\d+) more application users? you own", text)
    assert listed + (int(more.group(1)) if more else 0) == teams  # each shown, or counted in the last line
    assert listed >= min(teams, 2) and "<app-user>" not in text
    if more:
        assert "/apikey list &lt;app-user&gt;" in text


def test_a_team_dataos_could_not_list_says_so_in_its_place() -> None:
    messages = team_lists([TeamSection(team("a"), None, "DataOS did not answer."), TeamSection(team("b"), [])], NOW)
    text = json.dumps(messages[0].blocks)
    assert ":x: DataOS did not answer." in text and "Keys of b" in text


def test_confirm_texts_are_cut_before_300_outside_entities() -> None:
    cut = confirm_text("*" + "n" * 280 + "* of <@U0123456789|someone> stops working at once.")
    assert len(cut) <= 300 and cut.endswith("…") and "<@U0123" not in cut and "<" not in cut
