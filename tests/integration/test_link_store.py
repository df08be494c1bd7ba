"""Self-links and the key that proved them, in storage (SQLite and PostgreSQL: `store` is parametrised)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store import Proof
from bot.store.leaks import LeakReports
from tests.repositories import Repositories

NOW = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
PROOF = Proof("f" * 64, "pasted", NOW + timedelta(days=30))


async def test_a_self_link_keeps_its_proof_and_ends_with_that_key(store: Repositories) -> None:
    await store.links.set_link("U1", "alice", method="self", linked_by="U1", now=NOW, proof=PROOF)
    await store.links.set_link("U2", "alice", method="self", linked_by="U2", now=NOW,
                               proof=Proof("e" * 64, "other", NOW))
    await store.links.set_link("U3", "alice", method="admin", linked_by="UADMIN", now=NOW)
    link = await store.links.get_link("U1")
    assert link is not None and link.proof == PROOF and link.proof_checked_at == NOW
    assert (await store.links.get_link("U3")).proof is None  # type: ignore[union-attr]
    ended = await store.links.end_links_proven_by(dataos_user_id="alice", key_name="pasted")
    assert [e.slack_user_id for e in ended] == ["U1"]
    assert await store.links.get_link("U1") is None and await store.links.get_link("U3") is not None
    assert [e.slack_user_id for e in await store.links.end_links_proven_by(fingerprint="e" * 64)] == ["U2"]
    assert await store.links.end_links_proven_by(fingerprint="e" * 64) == []
    assert [link.slack_user_id for link in await store.links.links()] == ["U3"]  # admin links are never ended here


async def test_ending_a_link_leaves_a_link_made_again_alone(store: Repositories) -> None:
    await store.links.set_link("U1", "alice", method="self", linked_by="U1", now=NOW, proof=PROOF)
    old = await store.links.get_link("U1")
    assert old is not None
    await store.links.set_link("U1", "alice", method="self", linked_by="U1", now=NOW + timedelta(seconds=1),
                         proof=Proof("a" * 64, "again", NOW + timedelta(days=3)))
    assert await store.links.end_link(old) is False  # the judgement was about the old link
    await store.links.proof_confirmed(old, NOW + timedelta(hours=1))  # neither does a confirmation reach it
    new = await store.links.get_link("U1")
    assert new is not None and new.proof_key_name == "again" and new.proof_checked_at == NOW + timedelta(seconds=1)
    assert await store.links.end_link(new) is True and await store.links.get_link("U1") is None


async def test_a_leak_report_is_found_by_its_fingerprint(store: Repositories) -> None:
    assert await store.links.key_reported_leaked("b" * 64) is False
    await LeakReports(store.engine).record("b" * 64, dataos_user_id="alice", key_name="pasted", channel="C1",
                                           poster="U1", message_ts="1.2", key_expiration=None, to_admins=False, now=NOW,
                                           within=timedelta(days=1))
    assert await store.links.key_reported_leaked("b" * 64) is True


async def test_the_hash_key_is_kept_once_and_read_back(store: Repositories) -> None:
    from bot.store.hash_keys import HashKeys

    keys = HashKeys(store.engine)
    first = await keys.get_or_create("fingerprint", b"\x01" * 32, now=NOW)
    assert first == b"\x01" * 32
    assert await keys.get_or_create("fingerprint", b"\x02" * 32, now=NOW) == first  # a later start's key is ignored


async def test_replicas_starting_together_agree_on_one_hash_key(
        pg_engines: tuple[Repositories, Repositories]) -> None:
    import asyncio

    from bot.store.hash_keys import HashKeys

    one, two = (HashKeys(r.engine) for r in pg_engines)
    for round_ in range(5):  # two first starts at once, each with its own operator key (a rotation under way)
        name = f"race{round_}"
        a, b = await asyncio.gather(one.get_or_create(name, b"\x0a" * 32, now=NOW),
                                    two.get_or_create(name, b"\x0b" * 32, now=NOW))
        assert a == b and a in (b"\x0a" * 32, b"\x0b" * 32)


async def test_keys_minted_through_a_link_are_claimed_by_one_replica_each(
        pg_engines: tuple[Repositories, Repositories]) -> None:
    import asyncio

    from bot.store.minted import STALE, MintedKeys

    one, two = (MintedKeys(r.engine) for r in pg_engines)
    proof = Proof("f" * 64, "pasted", NOW + timedelta(days=30))
    names = [f"spare_{i}" for i in range(12)]
    for name in names:
        await one.record("alice", name, NOW + timedelta(days=20), proof, slack_user_id="UMAL", how="created", now=NOW)
    assert await two.is_minted("alice", "spare_3", NOW + timedelta(days=20))
    assert not await two.is_minted("alice", "spare_3", NOW + timedelta(days=21))  # another key of that name
    a, b = await asyncio.gather(one.claim(now=NOW, fingerprint=proof.fingerprint),
                                two.claim(now=NOW, fingerprint=proof.fingerprint))
    assert sorted(k.key_name for k in a + b) == sorted(names)  # each key to exactly one replica
    assert await one.claim(now=NOW, fingerprint=proof.fingerprint) == []
    later = NOW + STALE + timedelta(seconds=1)  # a claim whose process died is taken again
    assert len(await two.claim(now=later, dataos_user_id="alice", proof_key_name="pasted")) == len(names)
