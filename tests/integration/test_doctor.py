"""`apikey-bot doctor` against the fakes: a healthy set-up, then each item failing on its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.doctor import Check, run_doctor
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.store import create_engine, migrate
from tests.bao import Bao
from tests.conftest import FakeClock
from tests.e2e.harness import make_settings


@pytest.fixture
async def db_path(tmp_path: Path) -> str:
    path = tmp_path / "bot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    await engine.dispose()
    return str(path)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


async def test_healthy(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, db_path: str) -> None:
    slack.add_channel("C0AUDIT", "apikey-audit")
    settings = make_settings(slack, heimdall, db_path, admin_slack_user_ids="U0ALICE", audit_channel="C0AUDIT")
    checks = by_name(await run_doctor(settings, now=clock.now()))
    assert {n: c.status for n, c in checks.items()} == {
        "configuration": "ok", "Slack auth.test": "ok", "Slack scopes": "ok", "DataOS key": "ok",
        "DataOS operator rights": "ok", "DataOS key expiry": "ok", "database": "ok", "database schema": "ok",
        "DataOS user directory": "ok", "admins": "ok", "audit channel": "ok"}
    assert checks["admins"].detail == "1 active admin"
    assert "in 365 days" in checks["DataOS key expiry"].detail
    assert "apikey-bot" in checks["DataOS key"].detail


async def test_bad_slack_token(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, db_path: str) -> None:
    settings = make_settings(slack, heimdall, db_path, slack_bot_token="xoxb-wrong")
    check = by_name(await run_doctor(settings, now=clock.now()))["Slack auth.test"]
    assert check.status == "fail" and "invalid_auth" in check.detail and "xoxb-wrong" not in check.detail


async def test_missing_scopes(heimdall: HeimdallEmulator, clock: FakeClock, db_path: str) -> None:
    slack = SlackFake(scopes="commands,chat:write")
    slack.start()
    try:
        check = by_name(await run_doctor(make_settings(slack, heimdall, db_path), now=clock.now()))["Slack scopes"]
    finally:
        slack.stop()
    missing = "missing channels:read, groups:read, im:write, usergroups:read, users:read, users:read.email"
    assert check.status == "fail" and missing in check.detail


async def test_slack_unreachable(heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
                                 db_path: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(slack, heimdall, db_path, slack_api_url=f"http://127.0.0.1:{port}/api/")
    check = by_name(await run_doctor(settings, now=clock.now()))["Slack auth.test"]
    assert check.status == "fail" and "cannot reach" in check.detail


async def test_invalid_dataos_key(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                  db_path: str) -> None:
    settings = make_settings(slack, heimdall, db_path, DATAOS_APIKEY="bm90LWEta2V5")
    check = by_name(await run_doctor(settings, now=clock.now()))["DataOS key"]
    assert check.status == "fail"


async def test_key_without_operator_rights(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                           db_path: str) -> None:
    personal = heimdall.add_token("alice", "personal", hours=24 * 60).apikey
    checks = by_name(await run_doctor(make_settings(slack, heimdall, db_path, DATAOS_APIKEY=personal),
                                      now=clock.now()))
    assert checks["DataOS key"].status == "ok" and "`alice`" in checks["DataOS key"].detail
    assert checks["DataOS operator rights"].status == "fail"
    assert "operator role" in checks["DataOS operator rights"].detail


async def test_key_expiring_soon_is_a_warning(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                              db_path: str) -> None:
    key = heimdall.add_operator("short-bot", hours=24 * 5)
    checks = by_name(await run_doctor(make_settings(slack, heimdall, db_path, DATAOS_APIKEY=key), now=clock.now()))
    assert checks["DataOS key expiry"].status == "warn" and "rotate it soon" in checks["DataOS key expiry"].detail


async def test_dataos_unreachable(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                  db_path: str) -> None:
    heimdall.fail_next(100, 503)
    check = by_name(await run_doctor(make_settings(slack, heimdall, db_path), now=clock.now()))["DataOS key"]
    assert check.status == "fail" and "HEIMDALL_URL" in check.detail


async def test_database_missing_unmigrated_and_unreachable(slack: SlackFake, heimdall: HeimdallEmulator,
                                                           clock: FakeClock, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "bot.db"
    check = by_name(await run_doctor(make_settings(slack, heimdall, str(missing)), now=clock.now()))["database"]
    # a fresh install: not a problem, the file is made at first start
    assert check.status == "ok" and "not created yet" in check.detail and str(missing) in check.detail
    assert not missing.exists()  # doctor only looks
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    check = by_name(await run_doctor(make_settings(slack, heimdall, str(blocker / "sub" / "bot.db")),
                                     now=clock.now()))["database"]
    assert check.status == "fail" and "not a writable folder" in check.detail
    check = by_name(await run_doctor(make_settings(slack, heimdall, str(tmp_path)), now=clock.now()))["database"]
    assert check.status == "fail" and "cannot be opened or created: IsADirectoryError" in check.detail
    empty = tmp_path / "empty.db"
    empty.touch()
    checks = by_name(await run_doctor(make_settings(slack, heimdall, str(empty)), now=clock.now()))
    assert checks["database"].status == "ok" and checks["database schema"].status == "fail"
    assert "at revision none" in checks["database schema"].detail
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(slack, heimdall, str(empty),
                             database_url=f"postgresql+asyncpg://u:hunter2@127.0.0.1:{port}/x")
    check = by_name(await run_doctor(settings, now=clock.now()))["database"]
    assert check.status == "fail" and "unreachable" in check.detail and "hunter2" not in check.detail


def test_cli_exit_codes(slack: SlackFake, heimdall: HeimdallEmulator, db_path: str, tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "SLACK_BOT_TOKEN": slack.token,
           "SLACK_SIGNING_SECRET": "x", "SLACK_API_URL": slack.api_url, "HEIMDALL_URL": heimdall.url,
           "DATAOS_APIKEY": heimdall.operator_key,  # type: ignore[attr-defined]
           "DATABASE_URL": f"sqlite+aiosqlite:///{db_path}"}
    ok = subprocess.run([sys.executable, "-m", "bot", "doctor"], capture_output=True, text=True,
                        env={**env, "ADMIN_SLACK_USER_IDS": "U0ALICE"}, cwd=tmp_path, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "✔ DataOS key:" in ok.stdout and "! audit channel: AUDIT_CHANNEL is not set" in ok.stdout
    assert ok.stdout.strip().endswith("No problems; 1 warning (!) worth a look.")
    bad = subprocess.run([sys.executable, "-m", "bot", "doctor"], capture_output=True, text=True,
                         env={**env, "DATAOS_APIKEY": "bm9wZQ=="}, cwd=tmp_path, timeout=60)
    assert bad.returncode == 1 and "✘ DataOS key" in bad.stdout and "1 problem found." in bad.stdout
    broken = subprocess.run([sys.executable, "-m", "bot", "doctor"], capture_output=True, text=True,
                            env={**env, "PORT": "x"}, cwd=tmp_path, timeout=60)
    assert broken.returncode == 2 and "✘ configuration error: PORT is invalid" in broken.stdout


@pytest.mark.parametrize(("leak_watch", "scopes", "expect"), [
    (True, "commands,chat:write,im:write,users:read,users:read.email", ("fail", "apikey-bot manifest --leak-watch")),
    (True, "commands,chat:write,im:write,users:read,users:read.email,channels:read,groups:read,usergroups:read,"
           "channels:history,"
           "groups:history", ("ok", "on:")),
    (False, "commands,chat:write,im:write,users:read,users:read.email,channels:history", ("warn", "LEAK_WATCH is off")),
])
async def test_leak_watch_scopes_match_the_setting(heimdall: HeimdallEmulator, clock: FakeClock, db_path: str,
                                                   leak_watch: bool, scopes: str, expect: tuple[str, str]) -> None:
    slack = SlackFake(scopes=scopes)
    slack.start()
    try:
        checks = by_name(await run_doctor(make_settings(slack, heimdall, db_path, leak_watch=leak_watch),
                                          now=clock.now()))
    finally:
        slack.stop()
    status, words = expect
    check = checks["leak watch"]
    if leak_watch and status == "fail":
        assert checks["Slack scopes"].status == "fail" and words in checks["Slack scopes"].detail
    assert check.status == status and (words in check.detail or status == "fail")


@pytest.mark.parametrize(("member", "private", "archived", "status", "says"), [
    (True, False, False, "ok", "the bot is in #apikey-audit"),
    (False, False, False, "fail", "invite @apikey-bot to #apikey-audit (`/invite @apikey-bot` in the channel)"),
    (True, True, False, "ok", "the bot is in #apikey-audit"),
    (False, True, False, "fail", "a private channel must have @apikey-bot invited"),
    (True, False, True, "fail", "#apikey-audit is archived"),
])
async def test_the_bot_must_be_in_the_audit_channel(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                                    db_path: str, member: bool, private: bool, archived: bool,
                                                    status: str, says: str) -> None:
    slack.add_channel("C0AUDIT", "apikey-audit", member=member, private=private, archived=archived)
    settings = make_settings(slack, heimdall, db_path, audit_channel="C0AUDIT")
    check = by_name(await run_doctor(settings, now=clock.now()))["audit channel"]
    assert check.status == status and says in check.detail, check.detail


async def test_an_audit_channel_that_does_not_exist(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                                    db_path: str) -> None:
    settings = make_settings(slack, heimdall, db_path, audit_channel="C0GONE")
    check = by_name(await run_doctor(settings, now=clock.now()))["audit channel"]
    assert check.status == "fail" and "is not a channel the bot can see" in check.detail


async def test_team_channels_the_bot_is_not_in_fail(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                                     db_path: str) -> None:
    from bot.store.teams import Team, TeamsRepo

    slack.add_channel("CETL", "etl", member=True)
    slack.add_channel("CEXPORT", "export", member=False)
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    repo = TeamsRepo(engine)
    await repo.put(Team("etl-ingest", "CETL", ("U0ALICE",), (), "U0ADMIN", clock.now()))
    settings = make_settings(slack, heimdall, db_path)
    check = by_name(await run_doctor(settings, now=clock.now()))["team channels"]
    assert check.status == "ok" and "all 1 team channel" in check.detail
    await repo.put(Team("etl-export", "CEXPORT", ("U0ALICE",), (), "U0ADMIN", clock.now()))
    await engine.dispose()
    check = by_name(await run_doctor(settings, now=clock.now()))["team channels"]
    assert check.status == "fail" and "the bot is not in #export of `etl-export`" in check.detail
    assert "#etl" not in check.detail


async def test_a_team_channel_shared_with_another_organisation_fails(slack: SlackFake, heimdall: HeimdallEmulator,
                                                                     clock: FakeClock, db_path: str) -> None:
    from bot.store.teams import Team, TeamsRepo

    slack.add_channel("CETL", "etl", member=True, connected_team_ids=["T0PARTNER"])  # Slack Connect
    slack.add_channel("CINSIDE", "inside", member=True, connected_team_ids=[])
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    repo = TeamsRepo(engine)
    await repo.put(Team("etl-ingest", "CETL", ("U0ALICE",), (), "U0ADMIN", clock.now()))
    await repo.put(Team("etl-inside", "CINSIDE", ("U0ALICE",), (), "U0ADMIN", clock.now()))
    await engine.dispose()
    check = by_name(await run_doctor(make_settings(slack, heimdall, db_path), now=clock.now()))["team channels"]
    assert check.status == "fail" and "#etl of `etl-ingest` is shared with another organisation" in check.detail
    assert "#inside" not in check.detail
async def test_no_admin_and_no_audit_channel_are_warnings_that_say_where_ids_are(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, db_path: str) -> None:
    checks = by_name(await run_doctor(make_settings(slack, heimdall, db_path), now=clock.now()))
    admins, audit = checks["admins"], checks["audit channel"]
    assert admins.status == "warn"
    assert "ADMIN_SLACK_USER_IDS is not set: nobody may use `/apikey admin`" in admins.detail
    assert "in Slack: open the person's profile, click ⋮ More, then Copy member ID" in admins.detail
    assert audit.status == "warn" and "AUDIT_CHANNEL is not set" in audit.detail
    assert "in Slack: click the channel's name to open its details; the channel ID is at the bottom" in audit.detail
    assert all(c.status != "fail" for c in checks.values())


async def test_example_values_fail_and_what_they_would_spoil_is_not_asked(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, db_path: str) -> None:
    settings = make_settings(slack, heimdall, db_path, slack_bot_token="xoxb-your-bot-token",
                             admin_slack_user_ids="U0ADMIN,U0456DEF", audit_channel="C0123ABC")
    checks = await run_doctor(settings, now=clock.now())
    failed = [c.detail.split(";")[0] for c in checks if c.status == "fail"]
    assert failed == ["SLACK_BOT_TOKEN still holds the example value from .env.example",
                      "ADMIN_SLACK_USER_IDS still holds the example value from .env.example",
                      "AUDIT_CHANNEL still holds the example value from .env.example"]
    named = by_name(checks)
    assert named["Slack auth.test"].status == "warn"
    assert named["Slack auth.test"].detail == "not checked while SLACK_BOT_TOKEN holds the example value"
    assert slack.calls == []  # an example token is not sent to Slack
    assert named["DataOS key"].status == "ok"  # DataOS's settings are real: checked as usual
    settings = make_settings(slack, heimdall, db_path, heimdall_url="https://your-dataos-fqdn/heimdall/api/v1/",
                             DATAOS_APIKEY="the-bot-operator-key")
    named = by_name(await run_doctor(settings, now=clock.now()))
    assert named["DataOS key"].status == "warn"
    assert named["DataOS key"].detail == "not checked while HEIMDALL_URL and DATAOS_APIKEY hold the example value"
    assert named["Slack auth.test"].status == "ok"
async def test_the_store_is_checked_and_a_missing_capability_prints_the_policy_it_needs(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, db_path: str, bao: Bao) -> None:
    from bot.store.rotations import Rotations, Target

    bao.policy("doctor-partial", 'path "secret/data/pipelines/ok" { capabilities = ["create", "read", "update"] }\n'
               'path "secret/metadata/pipelines/ok" { capabilities = ["read"] }\n')
    token = bao.token(["doctor-partial"])
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    repo = Rotations(engine)
    for app, path in (("etl-ok", "pipelines/ok"), ("etl-denied", "pipelines/denied")):
        await repo.put_target(Target(app, "team", f"vault:secret/{path}#apikey", 720, 168, 3600, "on", None, None,
                                     None, "U0DAVE", clock.now()), now=clock.now())
    await engine.dispose()
    settings = make_settings(slack, heimdall, db_path, vault_addr=bao.addr, vault_token=token)
    checks = by_name(await run_doctor(settings, now=clock.now()))
    assert checks["Vault"].status == "ok" and checks["Vault login"].status == "ok"
    assert "token expires in" in checks["Vault login"].detail and "renewed by the bot" in checks["Vault login"].detail
    paths = checks["Vault paths"]
    assert paths.status == "fail" and "secret/data/pipelines/denied lacks create, read, update" in paths.detail
    assert 'path "secret/data/pipelines/denied"' in paths.detail and "pipelines/ok" not in paths.detail
    assert token not in "\n".join(c.line() for c in checks.values())


async def test_an_unreachable_store_fails_with_a_sentence(slack: SlackFake, heimdall: HeimdallEmulator,
                                                          clock: FakeClock, db_path: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(slack, heimdall, db_path, vault_addr=f"http://127.0.0.1:{port}", vault_token="t")
    check = by_name(await run_doctor(settings, now=clock.now()))["Vault"]
    assert check.status == "fail" and "could not be reached" in check.detail


async def test_admins_all_deactivated_fail_and_some_deactivated_warn(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, db_path: str) -> None:
    slack.add_user("U0GONE", "gone@example.com", deleted=True)
    only_gone = make_settings(slack, heimdall, db_path, admin_slack_user_ids=["U0GONE", "U0NOBODY"])
    check = by_name(await run_doctor(only_gone, now=clock.now()))["admins"]
    assert check.status == "fail" and "no active admin" in check.detail
    assert "U0GONE (deactivated)" in check.detail and "U0NOBODY (unknown to Slack)" in check.detail
    mixed = make_settings(slack, heimdall, db_path, admin_slack_user_ids=["U0ALICE", "U0GONE"])
    check = by_name(await run_doctor(mixed, now=clock.now()))["admins"]
    assert check.status == "warn" and "1 active" in check.detail and "U0GONE (deactivated)" in check.detail
    fine = make_settings(slack, heimdall, db_path, admin_slack_user_ids=["U0ALICE"])
    assert by_name(await run_doctor(fine, now=clock.now()))["admins"].status == "ok"


async def test_the_key_policy_is_checked_as_the_bot_reads_it(slack: SlackFake, heimdall: HeimdallEmulator,
                                                             clock: FakeClock, db_path: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[defaults]\napproval_above = "90d"\napprovers = ["admins"]\n')
    checks = by_name(await run_doctor(make_settings(slack, heimdall, db_path, policy_file=str(policy)),
                                      now=clock.now()))
    assert checks["key policy"].status == "ok" and "0 rules and the defaults" in checks["key policy"].detail
    policy.write_text('[defaults]\napproval_above = "90d"\napprovers = ["grace"]\n')
    check = by_name(await run_doctor(make_settings(slack, heimdall, db_path, policy_file=str(policy)),
                                     now=clock.now()))["key policy"]
    assert check.status == "fail" and "POLICY_FILE is invalid" in check.detail and "line 3" in check.detail


async def test_on_grid_it_lists_the_granted_workspaces_and_where_each_channel_lives(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, db_path: str) -> None:
    slack.make_org()
    slack.add_workspace("T0456", "Labs")
    slack.add_workspace("T0789", "Later", granted=False)
    slack.add_channel("C0APPROVE", "approvals")
    slack.channel_in("C0APPROVE", "T0456")
    slack.add_channel("C0DIGEST", "digest")
    slack.channel_in("C0DIGEST", "T0789")
    settings = make_settings(slack, heimdall, db_path, audit_channel="C0AUDIT", approval_channel="C0APPROVE",
                             digest_channel="C0DIGEST")
    checks = by_name(await run_doctor(settings, now=clock.now()))
    assert checks["Grid workspaces"].status == "ok"
    assert "2 granted" in checks["Grid workspaces"].detail and "Labs (T0456)" in checks["Grid workspaces"].detail
    assert "Later" not in checks["Grid workspaces"].detail
    assert checks["Grid channels"].status == "fail"
    assert "DIGEST_CHANNEL=C0DIGEST is in no granted workspace" in checks["Grid channels"].detail
    assert "AUDIT_CHANNEL" not in checks["Grid channels"].detail
    slack.grant("T0789")
    checks = by_name(await run_doctor(settings, now=clock.now()))
    assert checks["Grid channels"].status == "ok" and "all 3 configured channel(s)" in checks["Grid channels"].detail
