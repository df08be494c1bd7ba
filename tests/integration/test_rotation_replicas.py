"""Rotations across replicas and the bot's own Vault login, against a real OpenBao: two replicas on
PostgreSQL racing for one rotation; AppRole login and token renewal (and a login again when the token
cannot be renewed); the bot's own key rotated and picked up by a second replica without a restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import Runtime
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.vault import VaultAuth
from bot.vault.client import VaultClient
from tests.bao import Bao
from tests.conftest import FakeClock
from tests.integration.runtimes import WED_1430
from tests.repositories import Repositories
from tests.rotation_helpers import (
    OLD,
    channel_posts,
    configure,
    creates,
    deletes,
    live_keys,
    make_runtime,
    rotate,
    seed_team,
    unique_path,
)


@pytest.fixture
async def replicas(pg_engines: tuple[Repositories, Repositories], heimdall: HeimdallEmulator, slack: SlackFake,
                   clock: FakeClock, tmp_path: Path, bao: Bao) -> AsyncIterator[tuple[Runtime, Runtime]]:
    clock._now = WED_1430
    first, second = pg_engines
    a = make_runtime(first, heimdall, slack, clock, tmp_path, bao)
    b = make_runtime(second, heimdall, slack, clock, tmp_path, bao)
    yield a, b
    await a.aclose()
    await b.aclose()


async def test_two_replicas_racing_for_the_same_rotation_rotate_once(
        replicas: tuple[Runtime, Runtime], heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
        bao: Bao) -> None:
    a, b = replicas
    seed_team(slack, heimdall)
    path = unique_path()
    await configure(a, path, grace=timedelta(0))
    heimdall.latency = 0.02  # both are inside the rotation at once
    for _ in range(3):
        await asyncio.gather(rotate(a, "replica-a"), rotate(b, "replica-b"))
    assert creates(heimdall) == 1
    assert len(bao.versions("secret", path)) == 1
    assert OLD not in live_keys(heimdall) and deletes(heimdall, OLD) == 1
    assert len([c for c in channel_posts(slack) if "was rotated" in str(c.params)]) == 1


async def test_approle_login_and_token_renewal(bao: Bao) -> None:
    bao.enable_approle()
    role = f"bot-{uuid.uuid4().hex[:8]}"
    bao.policy(role, 'path "secret/data/pipelines/*" { capabilities = ["create", "read", "update"] }')
    bao.call("POST", f"auth/approle/role/{role}", {"token_policies": [role], "token_ttl": "10m",
                                                    "token_max_ttl": "1h"})
    role_id = bao.call("GET", f"auth/approle/role/{role}/role-id")["data"]["role_id"]
    secret_id = bao.call("POST", f"auth/approle/role/{role}/secret-id")["data"]["secret_id"]
    client = VaultClient(bao.addr, VaultAuth("approle", role_id=role_id, secret_id=SecretStr(secret_id)))
    try:
        path = unique_path()
        assert await client.write("secret", path, {"apikey": SecretStr("x")}, cas=0) == 1  # logged in on first use
        assert client.logins == 1
        info = await client.lookup_self()
        assert role in info.policies and info.renewable and 300 < info.ttl <= 600 and info.last_renewal_time is None
        assert await client.keep_alive() == "nothing"  # more than half its life left: not renewed yet
        assert await client.keep_alive(renew_within=3600) == "renewed"
        assert (await client.lookup_self()).last_renewal_time is not None
        assert client.logins == 1
    finally:
        await client.aclose()


async def test_a_token_that_cannot_be_renewed_is_replaced_by_logging_in_again(bao: Bao) -> None:
    bao.enable_approle()
    role = f"batch-{uuid.uuid4().hex[:8]}"
    bao.policy(role, 'path "secret/data/pipelines/*" { capabilities = ["read"] }')
    bao.call("POST", f"auth/approle/role/{role}", {"token_policies": [role], "token_type": "batch",
                                                    "token_ttl": "60s"})
    role_id = bao.call("GET", f"auth/approle/role/{role}/role-id")["data"]["role_id"]
    secret_id = bao.call("POST", f"auth/approle/role/{role}/secret-id")["data"]["secret_id"]
    client = VaultClient(bao.addr, VaultAuth("approle", role_id=role_id, secret_id=SecretStr(secret_id)))
    try:
        await client.login()
        assert not (await client.lookup_self()).renewable
        assert await client.keep_alive(renew_within=3600) == "logged in"
        assert client.logins == 2
        assert await client.read("secret", unique_path()) is None  # the new token works
    finally:
        await client.aclose()


async def test_a_wrong_approle_secret_is_a_sentence_without_the_secret(bao: Bao) -> None:
    bao.enable_approle()
    client = VaultClient(bao.addr, VaultAuth("approle", role_id="nobody", secret_id=SecretStr("s3cr3t-id-value")))
    try:
        with pytest.raises(Exception) as caught:
            await client.read("secret", unique_path())
    finally:
        await client.aclose()
    assert "login" in str(caught.value) and "s3cr3t-id-value" not in str(caught.value)
    assert (caught.value.__cause__ is None and caught.value.__context__ is None) or \
        "s3cr3t" not in repr(caught.value.__context__)


async def test_the_bots_own_key_is_rotated_and_picked_up_by_a_second_replica(
        pg_engines: tuple[Repositories, Repositories], heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
        tmp_path: Path, bao: Bao) -> None:
    clock._now = WED_1430
    path = unique_path()
    owner = next(uid for uid, keys in heimdall.tokens.items() for t in keys.values()
                 if t.apikey == heimdall.operator_key)  # type: ignore[attr-defined]
    old = next(t for t in heimdall.tokens[owner].values() if t.apikey == heimdall.operator_key)  # type: ignore[attr-defined]
    old.expiration = WED_1430 + timedelta(days=3)  # due: within the default 7 days
    bao.call("POST", f"secret/data/{path}", {"data": {"apikey": old.apikey}})
    settings = {"DATAOS_APIKEY": None, "dataos_apikey_from": f"vault:secret/{path}#apikey",
                "audit_channel": "C0AUDIT"}
    slack.add_channel("C0AUDIT", "apikey-audit")
    first, second = pg_engines
    a = make_runtime(first, heimdall, slack, clock, tmp_path, bao, **settings)
    b = make_runtime(second, heimdall, slack, clock, tmp_path, bao, **settings)
    try:
        await a.start()
        await b.start()
        assert a.operator_key.get_secret_value() == old.apikey == b.operator_key.get_secret_value()
        await rotate(a, "replica-a")
        [version] = bao.versions("secret", path)[1:]
        new_value = version["data"]["apikey"]
        assert new_value != old.apikey and version["data"]["key_name"] != old.name
        assert a.operator_key.get_secret_value() == new_value  # the rotating replica uses it at once
        assert [c for c in channel_posts(slack, "C0AUDIT") if "bot's own DataOS key was rotated" in str(c.params)]
        clock.advance(hours=2)
        await rotate(a, "replica-a")  # the grace has passed: the old key is revoked
        assert old.name not in heimdall.tokens[owner]
        # the second replica still holds the old key: DataOS refuses it, and it reads the store again
        assert b.operator_key.get_secret_value() == old.apikey
        assert len(await b.dataos.list_users(limit=10)) > 0  # answered, after a 401 and a read of the store
        assert b.operator_key.get_secret_value() == new_value
        refused = [c for c in heimdall.calls if c.status == 401]
        assert len(refused) == 1 and refused[0].headers.get("apikey") == old.apikey
        assert new_value not in str(slack.calls) and old.apikey not in str(slack.calls)
    finally:
        await a.aclose()
        await b.aclose()


def test_a_bot_whose_own_key_cannot_be_read_from_the_store_does_not_start(
        slack: SlackFake, heimdall: HeimdallEmulator, bao: Bao, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.e2e.harness import free_port, process_env

    env = process_env(slack, heimdall, "secret-x", VAULT_ADDR=bao.addr, VAULT_TOKEN=bao.root_token,
                      DATAOS_APIKEY_FROM=f"vault:secret/{unique_path()}#apikey",
                      DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/bot.db")
    env.pop("DATAOS_APIKEY")
    env["PYTHONPATH"] = os.getcwd()
    proc = subprocess.run([sys.executable, "-m", "bot", "serve", "--port", str(free_port())], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "cannot start" in proc.stderr and "holds no key in field 'apikey'" in proc.stderr
    assert "Traceback" not in proc.stderr and bao.root_token not in proc.stderr
