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
