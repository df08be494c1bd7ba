"""The same contract for a real OpenBao (`bao server -dev`) and the playground's KV stand-in: every call the
bot makes gets the same answer from both, through the bot's own client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from bot.playground._server import ServerThread
from bot.playground.vault import KVStandIn
from bot.vault import VaultAuth, VaultCasConflict, VaultForbidden
from bot.vault.client import VaultClient
from tests.bao import Bao


@dataclass
class Store:
    addr: str
    root: str
    limited: str  # may use secret/data/pipelines/* and secret/metadata/pipelines/* only


@pytest.fixture(params=["bao", "standin"])
def kv(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "bao":
        bao: Bao = request.getfixturevalue("bao")
        name = f"contract-{uuid.uuid4().hex[:8]}"
        bao.policy(name, 'path "secret/data/pipelines/*" { capabilities = ["create", "read", "update"] }\n'
                   'path "secret/metadata/pipelines/*" { capabilities = ["read"] }\n')
        yield Store(bao.addr, bao.root_token, bao.token([name]))
        return
    standin = KVStandIn()
    server = ServerThread(standin.app)
    url = server.start()
    yield Store(url, standin.root_token, standin.add_token(("secret/data/pipelines/", "secret/metadata/pipelines/")))
    server.stop()


def client(store: Store, token: str) -> VaultClient:
    return VaultClient(store.addr, VaultAuth("token", token=SecretStr(token)))


async def test_versions_check_and_set_and_reading_a_version_back(kv: Store) -> None:
    c = client(kv, kv.limited)
    path = f"pipelines/{uuid.uuid4().hex[:8]}"
    try:
        assert await c.read("secret", path) is None and await c.current_version("secret", path) == 0
        assert await c.write("secret", path, {"apikey": SecretStr("one"), "n": SecretStr("1")}, cas=0) == 1
        with pytest.raises(VaultCasConflict):
            await c.write("secret", path, {"apikey": SecretStr("two")}, cas=0)
        assert await c.write("secret", path, {"apikey": SecretStr("two")}, cas=1) == 2
        assert await c.current_version("secret", path) == 2
        first = await c.read("secret", path, 1)
        assert first is not None and first.version == 1 and first.data["apikey"].get_secret_value() == "one"
        latest = await c.read("secret", path)
        assert latest is not None and latest.version == 2 and set(latest.data) == {"apikey"}
        assert "two" not in repr(latest)
        assert await c.read("secret", path, 7) is None
    finally:
        await c.aclose()


async def test_a_path_outside_the_tokens_policy_is_forbidden_and_its_capabilities_say_so(kv: Store) -> None:
    c = client(kv, kv.limited)
    try:
        with pytest.raises(VaultForbidden) as caught:
            await c.write("secret", "elsewhere/x", {"apikey": SecretStr("v")}, cas=0)
        assert "secret/data/elsewhere/x" in str(caught.value) and "permission denied" in str(caught.value)
        held = await c.capabilities(["secret/data/pipelines/a", "secret/data/elsewhere/x"])
        assert {"create", "read", "update"} <= set(held["secret/data/pipelines/a"])
        assert held["secret/data/elsewhere/x"] == ("deny",)
        info = await c.lookup_self()
        assert "root" not in info.policies
    finally:
        await c.aclose()


async def test_the_root_token_and_health(kv: Store) -> None:
    c = client(kv, kv.root)
    try:
        assert (await c.capabilities(["secret/data/anything"]))["secret/data/anything"] == ("root",)
        info = await c.lookup_self()
        assert info.ttl == 0 and "root" in info.policies
        health = await c.health()
        assert health["initialized"] is True and health["sealed"] is False
    finally:
        await c.aclose()


async def test_a_token_it_does_not_know_is_refused(kv: Store) -> None:
    c = client(kv, "not-a-token")
    try:
        with pytest.raises(VaultForbidden):
            await c.read("secret", "pipelines/x")
    finally:
        await c.aclose()
