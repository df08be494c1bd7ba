"""Identity: the pure decision, then the lookups against the fakes and a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.dataos import HeimdallClient, User
from bot.identity import DataOSDirectory, Denied, Identity, IdentityResolver, SlackProfile, SlackProfiles, decide
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.store import Link
from tests.conftest import FakeClock
from tests.repositories import Repositories

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _p(email: str | None, **kw: object) -> SlackProfile:
    return SlackProfile("U1", email, "Europe/Berlin", 3600, **kw)  # type: ignore[arg-type]


def test_decide_link_wins_over_email() -> None:
    link = Link("U1", "linked", "admin", "UADMIN", NOW)
    result = decide("U1", link, _p("a@x.io"), [User(id="byemail", email="a@x.io")])
    assert result == Identity("U1", "linked", "admin link", "a@x.io")


def test_decide_email_case_insensitive_persons_only() -> None:
    users = [User(id="app", email="A@X.io", type="application"), User(id="alice", email=" A@x.IO ")]
    assert decide("U1", None, _p("a@X.io"), users) == Identity("U1", "alice", "e-mail", "a@X.io")


@pytest.mark.parametrize(
    ("profile", "users", "reason"),
    [
        (_p(None), [], "no_email"),
        (_p("a@x.io"), [], "no_match"),
        (_p("a@x.io"), [User(id="app", email="a@x.io", type="application")], "no_match"),
        (_p("a@x.io"), [User(id="a1", email="a@x.io"), User(id="a2", email="A@x.io")], "ambiguous"),
        (_p("a@x.io", deleted=True), [User(id="a1", email="a@x.io")], "deactivated"),
        (_p("a@x.io", is_bot=True), [User(id="a1", email="a@x.io")], "bot"),
    ],
)
def test_decide_denials_say_how_to_get_linked(profile: SlackProfile, users: list[User], reason: str) -> None:
    result = decide("U1", None, profile, users)
    assert isinstance(result, Denied) and result.reason == reason
    if reason in ("no_email", "no_match", "ambiguous"):
        assert "/apikey link" in result.message


@pytest.fixture
async def resolver(
    heimdall: HeimdallEmulator, slack: SlackFake, store: Repositories, clock: FakeClock
) -> AsyncIterator[IdentityResolver]:
    async def nowait(_: float) -> None:
        return None

    client = HeimdallClient(heimdall.url, heimdall.operator_key, sleep=nowait)  # type: ignore[attr-defined]
    web = AsyncWebClient(token=slack.token, base_url=slack.api_url)
    directory = DataOSDirectory(client, ttl=600, clock=clock.monotonic)
    yield IdentityResolver(store.links, directory, SlackProfiles(web, ttl=900, clock=clock.monotonic),
                           clock=clock.monotonic)
    await directory.aclose()
    await client.aclose()


async def test_resolve_by_email_and_link(resolver: IdentityResolver, store: Repositories) -> None:
    assert await resolver.resolve("U0ALICE") == Identity("U0ALICE", "alice", "e-mail", "Alice@Example.com")
    denied = await resolver.resolve("U0DAVE")
    assert isinstance(denied, Denied) and denied.reason == "no_match"
    await store.links.set_link("U0DAVE", "carol", method="self", linked_by="U0DAVE", now=NOW)
    assert await resolver.resolve("U0DAVE") == Identity("U0DAVE", "carol", "self link", "dave@elsewhere.org")
    unknown = await resolver.resolve("U0NOBODY")
    assert isinstance(unknown, Denied) and unknown.reason == "no_email"


async def test_lookups_are_cached(resolver: IdentityResolver, heimdall: HeimdallEmulator, slack: SlackFake) -> None:
    for _ in range(3):
        await resolver.resolve("U0ALICE")
        await resolver.resolve("U0BOB")
    assert len(heimdall.calls_to("GET", "/users")) == 1
    assert len(slack.calls_to("users.info")) == 2


async def test_directory_refreshes_in_background_after_ttl(
    resolver: IdentityResolver, heimdall: HeimdallEmulator, clock: FakeClock
) -> None:
    await resolver.resolve("U0DAVE")
    heimdall.add_user("dave", "dave@elsewhere.org")
    clock.advance(seconds=601)
    first = await resolver.resolve("U0DAVE")  # served from the stale cache, refresh kicked off
    assert isinstance(first, Denied)
    assert resolver.directory._refreshing is not None
    await resolver.directory._refreshing
    assert await resolver.resolve("U0DAVE") == Identity("U0DAVE", "dave", "e-mail", "dave@elsewhere.org")


async def test_failed_refresh_keeps_stale_directory(
    resolver: IdentityResolver, heimdall: HeimdallEmulator, clock: FakeClock
) -> None:
    await resolver.resolve("U0ALICE")
    clock.advance(seconds=601)
    heimdall.fail_next(10, 503)
    await resolver.resolve("U0ALICE")
    assert resolver.directory._refreshing is not None
    await resolver.directory._refreshing
    heimdall.faults.clear()
    assert (await resolver.resolve("U0ALICE")) == Identity("U0ALICE", "alice", "e-mail", "Alice@Example.com")


async def test_directory_down_at_first_load_is_a_polite_denial(
    resolver: IdentityResolver, heimdall: HeimdallEmulator
) -> None:
    heimdall.fail_next(10, 503)
    result = await resolver.resolve("U0ALICE")
    assert isinstance(result, Denied) and result.reason == "unavailable"
    assert "Nothing was changed" in result.message


async def test_slack_failure_is_a_polite_denial(resolver: IdentityResolver, slack: SlackFake) -> None:
    slack.fail("users.info", "internal_error")
    result = await resolver.resolve("U0BOB")
    assert isinstance(result, Denied) and result.reason == "unavailable"


async def test_resolutions_are_remembered_briefly(resolver: IdentityResolver, store: Repositories,
                                                  clock: FakeClock) -> None:
    assert await resolver.resolve("U0BOB") == Identity("U0BOB", "bob", "e-mail", "bob@example.com")
    await store.links.set_link("U0BOB", "carol", method="admin", linked_by="UADMIN", now=NOW)
    assert (await resolver.resolve("U0BOB")).dataos_user_id == "bob"  # type: ignore[union-attr]
    clock.advance(seconds=31)
    assert (await resolver.resolve("U0BOB")).dataos_user_id == "carol"  # type: ignore[union-attr]
    await store.links.delete_link("U0BOB")
    resolver.forget("U0BOB")  # what a link or unlink made by this bot does
    assert (await resolver.resolve("U0BOB")).dataos_user_id == "bob"  # type: ignore[union-attr]
