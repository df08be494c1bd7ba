"""Contract tests: the real Heimdall client against the emulator, over real HTTP."""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.dataos import (
    DataOSBadRequest,
    DataOSConflict,
    DataOSError,
    DataOSForbidden,
    DataOSNotFound,
    DataOSUnauthorized,
    DataOSUnavailable,
    HeimdallClient,
)
from bot.playground.heimdall import HeimdallEmulator
from tests.conftest import FakeClock


class Waits:
    """Stands in for asyncio.sleep in the client's backoff: records instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
async def client(heimdall: HeimdallEmulator, waits: Waits) -> AsyncIterator[HeimdallClient]:
    c = HeimdallClient(heimdall.url, heimdall.operator_key, timeout=0.5, sleep=waits)  # type: ignore[attr-defined]
    yield c
    await c.aclose()


async def test_list_users(client: HeimdallClient, heimdall: HeimdallEmulator) -> None:
    users = await client.list_users()
    by_id = {u.id: u for u in users}
    assert by_id["alice"].email == "alice@example.com" and by_id["alice"].is_person
    assert by_id["apikey-bot"].is_operator and not by_id["apikey-bot"].is_person
    call = heimdall.calls[-1]
    assert call.path == "/heimdall/api/v1/users?limit=100000"
    assert call.headers["apikey"] == heimdall.operator_key  # type: ignore[attr-defined]
    assert re.fullmatch(r"[0-9a-f-]{36}", call.headers["dataos-correlation-id"])


async def test_base_url_with_api_v1_suffix_is_normalised(heimdall: HeimdallEmulator) -> None:
    from bot.config import normalise_heimdall_url

    async with HeimdallClient(normalise_heimdall_url(heimdall.url + "/api/v1/"),
                              heimdall.operator_key) as c:  # type: ignore[attr-defined]
        assert (await c.get_user("bob")).id == "bob"


async def test_get_user_and_404(client: HeimdallClient) -> None:
    assert (await client.get_user("alice")).name == "Alice"
    with pytest.raises(DataOSNotFound) as err:
        await client.get_user("nobody")
    assert err.value.status == 404 and err.value.correlation_id


async def test_create_list_get_delete(client: HeimdallClient, heimdall: HeimdallEmulator, clock: FakeClock) -> None:
    token = await client.create_token("alice", name="ci_loader", hours=720, description="CI")
    assert token.name == "ci_loader"
    assert token.expiration == (clock.now() + timedelta(hours=720)).replace(minute=0) + timedelta(hours=1)
    assert token.secret is not None
    secret = token.secret.get_secret_value()
    assert base64.b64decode(secret).decode().startswith("ci_loader.")
    assert secret not in repr(token)
    assert heimdall.calls[-1].body == {"type": "apikey", "name": "ci_loader", "duration": "720h",
                                       "description": "CI", "use_existing": False}
    names = [t.name for t in await client.list_tokens("alice")]
    assert names == ["ci_loader"]
    assert (await client.get_token("alice", "ci_loader")).expiration == token.expiration
    await client.delete_token("alice", "ci_loader")
    assert await client.list_tokens("alice") == []
    with pytest.raises(DataOSNotFound):
        await client.delete_token("alice", "ci_loader")
    with pytest.raises(DataOSNotFound):
        await client.get_token("alice", "ci_loader")


async def test_create_without_name_gets_dataos_pattern(client: HeimdallClient) -> None:
    token = await client.create_token("bob", name=None, hours=24)
    assert re.fullmatch(r"token_[a-z]+_[a-z]+_[a-z]+_[a-z]+", token.name)


@pytest.mark.parametrize(("create_status", "delete_status"), [(200, 200), (201, 204)])
async def test_both_success_statuses(
    client: HeimdallClient, heimdall: HeimdallEmulator, create_status: int, delete_status: int
) -> None:
    heimdall.create_status, heimdall.delete_status = create_status, delete_status
    await client.create_token("bob", name="x1", hours=24)
    await client.delete_token("bob", "x1")
    assert [c.status for c in heimdall.calls[-2:]] == [create_status, delete_status]


async def test_authorize(client: HeimdallClient, heimdall: HeimdallEmulator, clock: FakeClock) -> None:
    key = heimdall.add_token("carol", "mine", hours=48).apikey
    result = await client.authorize(key)
    assert result.user_id == "carol"
    assert (await client.authorize("bm9wZQ==")).user_id is None
    clock.advance(hours=49)
    assert (await client.authorize(key)).user_id is None


async def test_bearer_header_accepted(heimdall: HeimdallEmulator) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        r = await http.get(heimdall.url + "/api/v1/users",
                           headers={"Authorization": f"Bearer {heimdall.operator_key}"})  # type: ignore[attr-defined]
    assert r.status_code == 200


async def test_400_bad_name_and_duration(client: HeimdallClient, heimdall: HeimdallEmulator) -> None:
    with pytest.raises(DataOSBadRequest):
        await client.create_token("alice", name="bad-name", hours=24)
    import httpx

    async with httpx.AsyncClient() as http:  # "30d" is what some docs show; Go's parser refuses it
        r = await http.post(heimdall.url + "/api/v1/users/alice/tokens",
                            json={"type": "apikey", "duration": "30d"},
                            headers={"apikey": heimdall.operator_key})  # type: ignore[attr-defined]
    assert r.status_code == 400 and r.json()["status"] == 400


async def test_401_unknown_and_expired_operator_key(heimdall: HeimdallEmulator, clock: FakeClock) -> None:
    async with HeimdallClient(heimdall.url, "dW5rbm93bg==") as c:
        with pytest.raises(DataOSUnauthorized):
            await c.list_users()
    key = heimdall.add_operator("other-bot", hours=1)
    clock.advance(hours=2)
    async with HeimdallClient(heimdall.url, key) as c:
        with pytest.raises(DataOSUnauthorized):
            await c.list_tokens("alice")


async def test_403_person_cannot_manage_others(heimdall: HeimdallEmulator) -> None:
    bob_key = heimdall.add_token("bob", "bobs", hours=24).apikey
    async with HeimdallClient(heimdall.url, bob_key) as c:
        assert [t.name for t in await c.list_tokens("bob")] == ["bobs"]
        with pytest.raises(DataOSForbidden):
            await c.list_tokens("alice")
        with pytest.raises(DataOSForbidden):
            await c.create_token("alice", name="x", hours=24)


async def test_409_duplicate_and_replace_switch(client: HeimdallClient, heimdall: HeimdallEmulator) -> None:
    first = await client.create_token("alice", name="dup", hours=24)
    with pytest.raises(DataOSConflict) as err:
        await client.create_token("alice", name="dup", hours=24)
    assert err.value.changed is False
    heimdall.duplicate_mode = "replace"
    second = await client.create_token("alice", name="dup", hours=48)
    assert second.secret != first.secret
    assert len(await client.list_tokens("alice")) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_transient_get_is_retried(client: HeimdallClient, heimdall: HeimdallEmulator, waits: Waits,
                                        status: int) -> None:
    heimdall.fail_next(2, status)
    assert len(await client.list_users()) == 4
    assert len(waits.delays) == 2


async def test_transient_gives_up_after_retries(client: HeimdallClient, heimdall: HeimdallEmulator,
                                                waits: Waits) -> None:
    heimdall.fail_next(10, 503)
    with pytest.raises(DataOSUnavailable) as err:
        await client.list_tokens("alice")
    assert err.value.status == 503
    assert waits.delays == [0.25, 0.5, 1.0]
    assert len(heimdall.calls) == 4


async def test_retry_after_is_honoured_and_capped(client: HeimdallClient, heimdall: HeimdallEmulator,
                                                  waits: Waits) -> None:
    heimdall.fail_next(1, 429, retry_after=2)
    heimdall.fail_next(1, 429)  # no header: exponential backoff
    heimdall.fail_next(1, 503, retry_after=3600)  # never wait longer than a person would
    await client.list_users()
    assert waits.delays == [2.0, 0.5, 5.0]


async def test_get_timeout_is_retried_then_fails(client: HeimdallClient, heimdall: HeimdallEmulator) -> None:
    heimdall.fail_next(4, None, delay=1.5)
    with pytest.raises(DataOSUnavailable, match="did not answer in time"):
        await client.get_user("alice")


async def test_non_retryable_statuses_not_retried(client: HeimdallClient, heimdall: HeimdallEmulator) -> None:
    heimdall.fail_next(1, 403)
    with pytest.raises(DataOSForbidden):
        await client.list_users()
    assert len(heimdall.calls) == 1


async def test_create_5xx_after_effect_does_not_duplicate(
    client: HeimdallClient, heimdall: HeimdallEmulator
) -> None:
    heimdall.fail_next(1, 502, after_effect=True, match="POST")
    token = await client.create_token("alice", name="once", hours=24)
    assert token.name == "once"
    posts = heimdall.calls_to("POST", "/tokens")
    assert [p.body["use_existing"] for p in posts] == [False, True]
    assert list(heimdall.tokens["alice"]) == ["once"]


async def test_create_timeout_after_effect_does_not_duplicate(
    client: HeimdallClient, heimdall: HeimdallEmulator
) -> None:
    heimdall.fail_next(1, None, delay=1.5, after_effect=True, match="POST")
    token = await client.create_token("alice", name="slowpoke", hours=24)
    assert token.secret is not None
    assert heimdall.tokens["alice"]["slowpoke"].apikey == token.secret.get_secret_value()
    assert len(heimdall.tokens["alice"]) == 1


async def test_unnamed_create_with_unknown_outcome_is_not_retried(
    client: HeimdallClient, heimdall: HeimdallEmulator
) -> None:
    heimdall.fail_next(1, 503, after_effect=True, match="POST")
    with pytest.raises(DataOSUnavailable) as err:
        await client.create_token("alice", name=None, hours=24)
    assert err.value.changed is None  # "may have been created": the UI must say so
    assert len(heimdall.calls_to("POST", "/tokens")) == 1


async def test_create_429_retried_with_no_duplicate(client: HeimdallClient, heimdall: HeimdallEmulator) -> None:
    heimdall.fail_next(1, 429, match="POST")
    await client.create_token("alice", name=None, hours=24)
    assert len(heimdall.tokens["alice"]) == 1


async def test_connection_refused(waits: Waits) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with HeimdallClient(f"http://127.0.0.1:{port}/heimdall", "a2V5", sleep=waits) as c:
        with pytest.raises(DataOSUnavailable, match="Could not connect") as err:
            await c.list_users()
        assert err.value.changed is False
        with pytest.raises(DataOSUnavailable) as err:
            await c.create_token("alice", name=None, hours=24)
        assert err.value.changed is False  # never reached DataOS: safe to say nothing changed


async def test_expired_keys_listing_switch(client: HeimdallClient, heimdall: HeimdallEmulator,
                                           clock: FakeClock) -> None:
    heimdall.add_token("bob", "old", hours=1)
    heimdall.add_token("bob", "new", hours=100)
    clock.advance(hours=2)
    assert {t.name for t in await client.list_tokens("bob")} == {"old", "new"}
    heimdall.list_expired = False
    assert {t.name for t in await client.list_tokens("bob")} == {"new"}


@pytest.mark.parametrize("body", [b'{"no": "name"}', b'{"tokens": [', b"<html>gateway</html>"])
async def test_unreadable_answer_is_an_error_without_body(client: HeimdallClient, heimdall: HeimdallEmulator,
                                                          body: bytes) -> None:
    heimdall.fail_next(1, 200, body=body, match="GET")
    with pytest.raises(DataOSError) as err:
        await client.list_tokens("alice")
    assert "could not read" in str(err.value)
    assert "name" not in str(err.value) and "gateway" not in str(err.value)  # the answer is not echoed


async def test_a_list_is_read_record_by_record(client: HeimdallClient, heimdall: HeimdallEmulator) -> None:
    """One record without a name is skipped; the rest of the answer is used (issue #20 A3)."""
    heimdall.fail_next(1, 200, body=b'[{"no": "name"}, {"name": "ok", "expiration": "2026-12-30T10:00:00Z", '
                                    b'"data": null, "type": null}]', match="GET")
    assert [t.name for t in await client.list_tokens("alice")] == ["ok"]


async def test_redirects_are_not_followed(client: HeimdallClient, heimdall: HeimdallEmulator) -> None:
    """A 3xx would carry the operator key to wherever it points: it is an error, not a hop."""
    heimdall.fail_next(1, 307, body=b"{}", match="GET", headers={"Location": heimdall.url + "/api/v1/users"})
    with pytest.raises(DataOSError) as err:
        await client.list_users()
    assert err.value.status == 307
    assert len(heimdall.calls_to("GET")) == 1  # the Location was not visited


async def test_operation_changes_are_visible_on_emulator_state(
    client: HeimdallClient, heimdall: HeimdallEmulator
) -> None:
    heimdall.add_token("carol", "a", hours=24)
    await client.delete_token("carol", "a")
    assert heimdall.tokens["carol"] == {}
    assert heimdall.calls[-1].method == "DELETE"


@pytest.mark.parametrize("no_proxy", [None, "dataos.invalid"])
async def test_proxy_from_the_environment(heimdall: HeimdallEmulator, monkeypatch: pytest.MonkeyPatch,
                                          waits: Waits, no_proxy: str | None) -> None:
    """HTTP(S)_PROXY and NO_PROXY are honoured, as the Slack SDK does. DataOS's host here cannot be
    resolved, so only a request that went through the proxy (the emulator, which serves absolute-form
    requests too) gets an answer."""
    proxy = heimdall.url.removesuffix("/heimdall")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    if no_proxy is not None:
        monkeypatch.setenv("NO_PROXY", no_proxy)
    async with HeimdallClient("http://dataos.invalid/heimdall", heimdall.operator_key,  # type: ignore[attr-defined]
                              sleep=waits) as c:
        if no_proxy is None:
            assert {u.id for u in await c.list_users()} >= {"alice", "bob"}
        else:
            with pytest.raises(DataOSUnavailable, match="Could not connect"):
                await c.list_users()
