"""Rotations against a real OpenBao (`bao server -dev`), the Heimdall emulator and the Slack fake, over
HTTP, on SQLite and PostgreSQL: the full flow, a crash after each step, a concurrent writer, a 403, the
store going down. Time is the test's clock: the grace passes on it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.rotation.engine import LEASE, RETRY_AFTER
from tests.bao import Bao
from tests.conftest import FakeClock
from tests.fakes.tcp_proxy import TcpProxy
from tests.integration.runtimes import WED_1430
from tests.repositories import Repositories
from tests.rotation_helpers import (
    ADMIN,
    APP,
    OLD,
    Killed,
    channel_posts,
    configure,
    creates,
    deletes,
    killer,
    live_keys,
    make_runtime,
    rotate,
    seed_team,
    unique_path,
)

H = timedelta(hours=1)


@pytest.fixture
async def rt(store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp_path: Path,
             bao: Bao) -> Runtime:
    clock._now = WED_1430
    r = make_runtime(store, heimdall, slack, clock, tmp_path, bao)
    yield r  # type: ignore[misc]
    await r.aclose()


def text(call: object) -> str:
    return json.dumps(call.params, ensure_ascii=False)  # type: ignore[attr-defined]


async def test_a_due_key_is_rotated_verified_announced_and_the_old_key_revoked_after_the_grace(
        rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, bao: Bao) -> None:
    old = seed_team(slack, heimdall)
    path = unique_path()
    bao.call("POST", f"secret/data/{path}", {"data": {"apikey": "before", "username": "etl"}})
    await configure(rt, path)
    summary = await rotate(rt)
    assert summary.started == 1 and summary.failed == 0
    [new] = [n for n in live_keys(heimdall) if n != OLD]
    assert new == f"{OLD}_20261125"
    token = heimdall.tokens[APP][new]
    assert token.expiration - WED_1430 <= timedelta(days=30, hours=1)
    versions = bao.versions("secret", path)
    assert [v["version"] for v in versions] == [1, 2]
    latest = versions[-1]["data"]
    assert latest["apikey"] == token.apikey and latest["key_name"] == new
    assert latest["username"] == "etl"  # another field of the secret is carried over, not dropped
    assert latest["expires_at"].startswith(token.expiration.strftime("%Y-%m-%dT%H"))
    assert latest["rotated_by"].startswith("apikey-bot")
    # announced in the team channel: which key, where, which version, until when, when the old one stops
    [post] = channel_posts(slack)
    shown = text(post)
    assert new in shown and f"secret/{path}" in shown and "version 2" in shown and OLD in shown
    assert token.apikey not in shown and old.apikey not in shown
    assert OLD in live_keys(heimdall)  # the grace: the old key still works
    await rotate(rt)
    assert OLD in live_keys(heimdall)
    clock.advance(hours=1, minutes=1)
    summary = await rotate(rt)
    assert summary.done == 1
    assert live_keys(heimdall) == [new] and deletes(heimdall, OLD) == 1
    [update] = slack.delivered("chat.update")
    assert update.params["ts"] == post.result["ts"] and "was revoked" in text(update)
    target = await rt.rotations.target(APP)
    assert target is not None and target.key_name == new and target.state == "on"
    assert target.next_at == token.expiration - timedelta(days=7)
    clock.advance(days=1)
    assert (await rotate(rt)).started == 0 and creates(heimdall) == 1  # not due again until 7 days before expiry


async def test_grace_zero_revokes_the_old_key_as_soon_as_the_new_one_is_verified(
        rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, bao: Bao) -> None:
    seed_team(slack, heimdall)
    await configure(rt, unique_path(), grace=timedelta(0))
    assert (await rotate(rt)).done == 1
    assert OLD not in live_keys(heimdall) and len(live_keys(heimdall)) == 1


@pytest.mark.parametrize("event", ["created", "written", "verified", "announced", "step:grace", "revoked"])
async def test_a_crash_after_any_step_resumes_with_one_successor_one_version_and_one_revoke(
        store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp_path: Path,
        bao: Bao, event: str) -> None:
    clock._now = WED_1430
    seed_team(slack, heimdall)
    path = unique_path()
    first = make_runtime(store, heimdall, slack, clock, tmp_path, bao)
    await configure(first, path)
    if event == "revoked":  # the grace has passed and the old key is being revoked
        await rotate(first, "replica-a")
        clock.advance(hours=2)
    with pytest.raises(Killed):  # the process dies right after that effect, before recording it
        await rotate(first, "replica-a", killer(event))
    await first.aclose()
    clock.advance(seconds=LEASE.total_seconds() + 1)  # the dead replica's claim runs out
    second = make_runtime(store, heimdall, slack, clock, tmp_path, bao)
    try:
        await rotate(second, "replica-b")
        clock.advance(hours=2)
        await rotate(second, "replica-b")
    finally:
        await second.aclose()
    assert creates(heimdall) == 1  # exactly one successor in DataOS
    [new] = [n for n in live_keys(heimdall) if n != OLD]
    assert [v["data"]["key_name"] for v in bao.versions("secret", path)] == [new]  # one new version
    assert OLD not in live_keys(heimdall) and deletes(heimdall, OLD) == 1  # revoked once
    announcements = [c for c in channel_posts(slack) if "was rotated" in text(c)]
    # posted at most once; a post whose fate is unknown is not repeated (its update then comes as a new line)
    assert len([c for c in announcements if "stops working" in text(c)]) <= 1


async def test_a_concurrent_writer_is_detected_by_check_and_set_and_not_overwritten(
        rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, bao: Bao) -> None:
    seed_team(slack, heimdall)
    path = unique_path()
    bao.call("POST", f"secret/data/{path}", {"data": {"apikey": "v1"}})
    await configure(rt, path)

    def someone_else_writes(event: str, rotation: object) -> None:
        if event == "read":  # between the bot's read and its write
            bao.call("POST", f"secret/data/{path}", {"data": {"apikey": "a person pasted this", "note": "theirs"}})

    summary = await rotate(rt, observe=someone_else_writes)
    assert summary.retrying == 1 and summary.done == 0
    versions = bao.versions("secret", path)
    assert [v["data"]["apikey"] for v in versions] == ["v1", "a person pasted this"]  # theirs stands
    assert OLD in live_keys(heimdall)
    clock.advance(seconds=RETRY_AFTER.total_seconds() + 1)
    await rotate(rt)  # the next attempt reads their version and writes on top of it, keeping their field
    versions = bao.versions("secret", path)
    assert len(versions) == 3 and versions[-1]["data"]["note"] == "theirs"
    assert versions[-1]["data"]["key_name"] != OLD and creates(heimdall) == 1


async def test_a_403_on_the_path_names_it_and_the_policy_it_needs_and_changes_nothing(
        store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp_path: Path,
        bao: Bao) -> None:
    clock._now = WED_1430
    bao.policy("elsewhere", 'path "secret/data/other/*" { capabilities = ["create", "read", "update"] }')
    token = bao.token(["elsewhere"])
    rt = make_runtime(store, heimdall, slack, clock, tmp_path, bao, vault_token=token)
    try:
        seed_team(slack, heimdall)
        path = unique_path()
        await configure(rt, path)
        summary = await rotate(rt)
    finally:
        await rt.aclose()
    assert summary.failed == 1  # at once: a permission is for a person to fix, retrying cannot help
    assert bao.versions("secret", path) == []
    assert live_keys(heimdall) == [OLD]  # the successor never reached the store: revoked, not left behind
    [post] = channel_posts(slack)
    message = text(post)
    assert f"secret/data/{path}" in message and "permission denied" in message
    assert "capabilities" in message and f"secret/metadata/{path}" in message  # the policy it needs
    buttons = [e["action_id"] for b in post.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["rotation_retry", "rotation_renew_by_hand"]
    admin_dm = [c for c in slack.delivered("chat.postMessage") if c.params["channel"] == ADMIN]
    assert len(admin_dm) == 1 and f"secret/{path}" in text(admin_dm[0])
    target = await store_target(store, clock, heimdall, slack, tmp_path, bao)
    assert target == "failed"


async def store_target(store: Repositories, clock: FakeClock, heimdall: HeimdallEmulator, slack: SlackFake,
                       tmp_path: Path, bao: Bao) -> str | None:
    rt = make_runtime(store, heimdall, slack, clock, tmp_path, bao)
    try:
        target = await rt.rotations.target(APP)
        return target.state if target else None
    finally:
        await rt.aclose()


async def test_the_store_down_during_a_rotation_is_retried_and_the_rotation_completes_once(
        store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp_path: Path,
        bao: Bao) -> None:
    clock._now = WED_1430
    proxy = TcpProxy("127.0.0.1", bao.port)
    port = proxy.start()
    rt = make_runtime(store, heimdall, slack, clock, tmp_path, bao, vault_addr=f"http://127.0.0.1:{port}")
    try:
        seed_team(slack, heimdall)
        path = unique_path()
        await configure(rt, path)

        def store_goes_down(event: str, rotation: object) -> None:
            if event == "step:write":
                proxy.block()

        summary = await rotate(rt, observe=store_goes_down)
        assert summary.retrying == 1 and bao.versions("secret", path) == []
        assert OLD in live_keys(heimdall) and channel_posts(slack) == []
        proxy.unblock()
        clock.advance(seconds=RETRY_AFTER.total_seconds() + 1)
        await rotate(rt)
        clock.advance(hours=2)
        await rotate(rt)
    finally:
        await rt.aclose()
        proxy.stop()
    assert creates(heimdall) == 1 and len(bao.versions("secret", path)) == 1
    assert OLD not in live_keys(heimdall)


async def test_the_store_down_twice_gives_up_tells_the_owners_and_revokes_the_unwritten_successor(
        store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp_path: Path,
        bao: Bao) -> None:
    clock._now = WED_1430
    proxy = TcpProxy("127.0.0.1", bao.port)
    port = proxy.start()
    rt = make_runtime(store, heimdall, slack, clock, tmp_path, bao, vault_addr=f"http://127.0.0.1:{port}")
    try:
        seed_team(slack, heimdall)
        await configure(rt, unique_path())
        proxy.block()
        assert (await rotate(rt)).retrying == 1
        clock.advance(seconds=RETRY_AFTER.total_seconds() + 1)
        assert (await rotate(rt)).failed == 1
    finally:
        await rt.aclose()
        proxy.stop()
    assert live_keys(heimdall) == [OLD]
    [post] = channel_posts(slack)
    assert "could not be rotated" in text(post) and "never reached the store and was revoked" in text(post)
