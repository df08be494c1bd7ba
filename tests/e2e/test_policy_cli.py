"""`apikey-bot policy check FILE`, and a broken POLICY_FILE stopping start-up: real processes."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli import run

GOOD = """[defaults]
max_validity = "365d"
approval_above = "90d"
approvers = ["admins"]

[[rules]]
members = ["S0DATAENG"]
keys = "personal"
max_validity = "180d"
"""
ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "DATAOS_APIKEY": "a2V5", "HEIMDALL_URL": "https://d.example/heimdall",
       "SLACK_SIGNING_SECRET": "s"}


def test_check_prints_the_rules_in_the_order_they_are_tried(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(GOOD)
    result = run("policy", "check", str(tmp_path / "policy.toml"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "1 rule and the defaults" in lines[0]
    assert lines[1].strip().startswith("rule 1 (line 6): S0DATAENG, personal keys, up to 180 days")
    assert lines[2].strip().startswith("the defaults (line 1): everyone, any keys, up to 365 days, approval above "
                                       "90 days by admins")


def test_check_names_the_line_of_the_first_problem(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(GOOD.replace('max_validity = "180d"', 'max_validity = "six months"'))
    result = run("policy", "check", str(tmp_path / "policy.toml"))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().startswith(f"✘ {tmp_path / 'policy.toml'}, line 9: rule 1: `max_validity`")
    assert "Traceback" not in result.stderr


def test_the_bot_refuses_to_start_on_a_broken_policy_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(GOOD.replace('approvers = ["admins"]', 'approvers = ["grace"]'))
    for command in ("serve", "sweep"):
        result = run(command, env={**ENV, "POLICY_FILE": str(tmp_path / "policy.toml")}, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (
            f"configuration error: POLICY_FILE is invalid: {tmp_path / 'policy.toml'}, line 4: [defaults]: `grace` "
            "is not \"admins\", \"team-owners\", a Slack user id (U…) or a user group id (S…)")
    result = run("serve", env={**ENV, "POLICY_FILE": str(tmp_path / "nope.toml")}, cwd=tmp_path)
    assert result.returncode == 2 and "POLICY_FILE is invalid" in result.stderr and "no such file" in result.stderr
