"""The key policy (issue #28): the TOML file is checked key by key with the line named, and a valid policy
gives every (person, kind of key, validity) exactly one decision, from the first rule that applies."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.key_policy import Allowed, NeedsApproval, Refused, Subject, decide, rule_for, rule_summary
from bot.policy.loader import PolicyError, describe, load_policy, load_policy_file

EXAMPLE = """\
[defaults]
max_validity = "365d"
approval_above = "90d"        # omit: no approval needed
approvers = ["admins"]
request_ttl = "8h"

[[rules]]                     # first match wins
members = ["S0DATAENG"]
keys = "personal"
max_validity = "180d"
approval_above = "30d"
approvers = ["S0PLATFORM"]
self_approval = false

[[rules]]
name = "contractors"
members = ["U0CONTRACT", "W0GUESTISH"]
max_validity = "7d"
"""
YEAR = 365 * 24


def load(text: str) -> object:
    return load_policy(text, source="policy.toml", fallback_max_hours=YEAR)


def test_the_issue_s_example_reads_as_written() -> None:
    policy = load_policy(EXAMPLE, source="policy.toml", fallback_max_hours=YEAR)
    assert [r.label for r in policy.rules] == ["rule 1", "rule “contractors”"]
    eng = Subject("U0ENG", frozenset({"S0DATAENG"}))
    assert decide(policy, eng, "personal", 30 * 24) == Allowed(policy.rules[0], 30 * 24)
    assert isinstance(decide(policy, eng, "personal", 31 * 24), NeedsApproval)
    assert decide(policy, eng, "personal", 31 * 24).approvers == ("S0PLATFORM",)  # type: ignore[union-attr]
    refused = decide(policy, eng, "personal", 181 * 24)
    assert isinstance(refused, Refused) and refused.maximum == 180 * 24 and "180 days" in refused.sentence
    # the first rule is for personal keys only: the same person's team keys fall to the defaults
    assert rule_for(policy, eng, "team") is policy.defaults
    assert isinstance(decide(policy, eng, "team", 91 * 24), NeedsApproval)
    # a contractor: the second rule inherits approval_above 90d, which never applies below 7 days
    contractor = Subject("U0CONTRACT")
    assert decide(policy, contractor, "team", 7 * 24) == Allowed(policy.rules[1], 7 * 24)
    assert isinstance(decide(policy, contractor, "personal", 8 * 24), Refused)
    # rules inherit what they do not say from [defaults]
    assert policy.rules[1].request_ttl_hours == 8 and policy.rules[1].approvers == ("admins",)
    assert "up to 180 days; above 30 days, approval by <!subteam^S0PLATFORM>" in rule_summary(
        policy.rules[0], "personal")
    assert describe(policy)[0].startswith("rule 1 (line 7): S0DATAENG, personal keys, up to 180 days")


def test_without_defaults_the_maximum_is_max_validity_and_nothing_needs_approval() -> None:
    policy = load_policy('[[rules]]\nmembers = ["everyone"]\nkeys = "team"\napproval_above = "1d"\n'
                         'approvers = ["team-owners"]\n', source="p", fallback_max_hours=10 * 24)
    assert policy.defaults.max_hours == 10 * 24 and policy.defaults.approval_above is None
    anyone = Subject("U0X")
    assert isinstance(decide(policy, anyone, "personal", 10 * 24), Allowed)
    assert isinstance(decide(policy, anyone, "team", 2 * 24), NeedsApproval)


@pytest.mark.parametrize(("text", "line", "words"), [
    ("[defaults]\nmax_validity = 365d\n", 2, "not valid TOML"),
    ("[defaults]\nmax_validity = \"a year\"\n", 2, "is not a validity"),
    ("[defaults]\nmax_valdity = \"30d\"\n", 2, "did you mean `max_validity`"),
    ("[defaults]\nmembers = [\"everyone\"]\n", 2, "only a rule has members"),
    ("[[rules]]\nkeys = \"personal\"\n", 1, "`members` is missing"),
    ("[[rules]]\nmembers = [\"alice\"]\n", 2, "`alice` is not a Slack user id"),
    ("[[rules]]\nmembers = [\"everyone\", \"U0ABC\"]\n", 2, "already includes"),
    ("[[rules]]\nmembers = [\"U0ABC\"]\nkeys = \"all\"\n", 3, "\"personal\", \"team\" or \"any\""),
    ("[[rules]]\nmembers = [\"U0ABC\"]\n\n\napprovers = [\"grace\"]\n", 5, "`grace` is not"),
    ("[defaults]\napproval_above = \"1d\"\napprovers = []\n", 3, "nobody could approve"),
    ("[[rules]]\nmembers = [\"U0ABC\"]\nkeys = \"personal\"\napprovers = [\"team-owners\"]\n", 4,
     "approve only team keys"),
    ("[defaults]\nrequest_ttl = \"60d\"\n", 2, "at most 30 days"),
    ("[defaults]\nself_approval = \"yes\"\n", 2, "true or false"),
    ("[defaults]\napprover_tag = \"roles id\"\n", 2, "a DataOS tag"),
    ("[defaults]\nmax_validity = \"1d\"\n[[rules]]\nmembers = [\"U0A\"]\n[[rules]]\nmembers = [\"U0B\"]\n"
     "max_validity = 30\n", 7, "must be a duration in quotes"),
    ("approval_channel = \"C1\"\n", 1, "unknown table or key `approval_channel`"),
    ("[defaults]\nmax_validity = \"0d\"\n", 2, "longer than zero"),
    ("[defaults]\napproval_above = \"9999999999d\"\n", 2, "far too long"),
])
def test_each_problem_names_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PolicyError) as raised:
        load(text)
    assert raised.value.line == line, str(raised.value)
    assert words in str(raised.value) and str(raised.value).startswith(f"policy.toml, line {line}: ")


def test_a_file_that_cannot_be_read_is_named(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    with pytest.raises(PolicyError, match="no such file"):
        load_policy_file(folder / "missing.toml", fallback_max_hours=YEAR)
    (folder / "latin1.toml").write_bytes(b"[defaults]\n# caf\xe9\n")
    with pytest.raises(PolicyError, match=r"line 2: is not UTF-8"):
        load_policy_file(folder / "latin1.toml", fallback_max_hours=YEAR)
    (folder / "big.toml").write_text("#" * 300_000)
    with pytest.raises(PolicyError, match="larger than"):
        load_policy_file(folder / "big.toml", fallback_max_hours=YEAR)


# ---- random policies: a message, or one decision for every (person, kind, validity) ------------------

DURATIONS = st.one_of(
    st.builds(lambda n, u: f"{n}{u}", st.integers(min_value=-2, max_value=2000), st.sampled_from(["h", "d", "w", ""])),
    st.sampled_from(["never", "", "30 days", "1y"]), st.integers(min_value=0, max_value=100))
IDS = st.sampled_from(["U0A", "U0B", "W0C", "S0G1", "S0G2", "everyone", "admins", "team-owners", "u0lower", ""])
VALUES = {
    "members": st.lists(IDS, max_size=3),
    "keys": st.sampled_from(["personal", "team", "any", "all", 3]),
    "max_validity": DURATIONS, "approval_above": DURATIONS, "request_ttl": DURATIONS,
    "approvers": st.lists(IDS, max_size=3), "self_approval": st.sampled_from([True, False, "no"]),
    "approver_tag": st.sampled_from(["roles:id:operator", "bad tag", 7]),
    "approver_self_link": st.booleans(),
    "name": st.sampled_from(["platform", "bad\nname", ""]),
    "mispelt": st.just("x"),
}


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@st.composite
def policies(draw: st.DrawFn) -> str:
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append("[defaults]")
        for key in draw(st.lists(st.sampled_from(list(VALUES)), max_size=5, unique=True)):
            lines.append(f"{key} = {_toml(draw(VALUES[key]))}")
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        lines.append("[[rules]]")
        for key in draw(st.lists(st.sampled_from(list(VALUES)), max_size=6, unique=True)):
            lines.append(f"{key} = {_toml(draw(VALUES[key]))}")
    if draw(st.booleans()) and lines:  # now and then, something that is not TOML at all
        at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        lines[at] = lines[at] + draw(st.sampled_from([" = ", "[", " x", ""]))
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), st.sampled_from(["U0A", "U0B", "W0C", "U0Z"]), st.sets(st.sampled_from(["S0G1", "S0G2"])),
       st.integers(min_value=-1, max_value=24 * 800))
def test_a_random_policy_is_refused_with_a_message_or_decides_every_request_once(
        text: str, person: str, groups: set[str], hours: int) -> None:
    try:
        policy = load_policy(text, source="p.toml", fallback_max_hours=YEAR)
    except PolicyError as exc:
        assert str(exc).startswith("p.toml"), exc
        assert exc.problem and "\n" not in str(exc) and len(str(exc)) < 400
        if exc.line is not None:
            assert 1 <= exc.line <= text.count("\n") + 1
        return
    subject = Subject(person, frozenset(groups))
    for kind in ("personal", "team"):
        decision = decide(policy, subject, kind, hours)  # type: ignore[arg-type]
        rule = rule_for(policy, subject, kind)  # type: ignore[arg-type]
        # exactly one of the three, from the first rule that applies, consistent with that rule's numbers
        assert decision.rule is rule
        expected = (Refused if hours < 1 or hours > rule.max_hours else
                    NeedsApproval if rule.approval_above is not None and hours > rule.approval_above else Allowed)
        assert type(decision) is expected
        if isinstance(decision, NeedsApproval):
            assert rule.approvers, "a request nobody could approve"
        earlier = policy.rules[:policy.rules.index(rule)] if rule in policy.rules else policy.rules
        assert not any(r.covers(kind) and r.matches(subject) for r in earlier)  # type: ignore[arg-type]


@given(st.text(alphabet=string.printable, max_size=200))
@settings(max_examples=200, deadline=None)
def test_any_text_is_a_policy_or_one_line_naming_the_problem(text: str) -> None:
    try:
        load_policy(text, source="p.toml", fallback_max_hours=YEAR)
    except PolicyError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("p.toml")
