"""The governance tables on SQLite and PostgreSQL (issue #28): a request is decided once however many
callers race; its delivery is claimed once, and taken over only after its lease; a notice is claimed by one
worker; the baseline and the bot's keys are never told; retention."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.store.approvals import Approvals, Request
from bot.store.notices import Notice, Notices
from tests.repositories import Repositories

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def request(i: str = "abc000000001") -> Request:
    return Request(id=i, created_at=NOW, expires_at=NOW + timedelta(hours=8), remind_at=NOW + timedelta(hours=4),
                   requester="U0BOB", kind="personal", dataos_user_id="bob", key_name="etl", hours=24 * 180,
                   reason="why", approvers="admins")


async def test_the_first_decision_wins_once_among_racing_callers(store: Repositories) -> None:
    repo = Approvals(store.engine)
    await repo.add(request())
    results = await asyncio.gather(*(repo.decide("abc000000001", "approved" if i % 2 else "denied", by=f"U{i}",
                                                 now=NOW) for i in range(8)))
    assert sum(results) == 1
    decided = await repo.get("abc000000001")
    assert decided is not None and decided.decided_by == f"U{results.index(True)}"
    assert not await repo.cancel("abc000000001", by="U0BOB", now=NOW)  # settled: nothing moves it again


async def test_an_expired_request_cannot_be_decided_and_is_expired_once(store: Repositories) -> None:
    repo = Approvals(store.engine)
    await repo.add(request())
    later = NOW + timedelta(hours=9)
    assert not await repo.decide("abc000000001", "approved", by="U1", now=later)
    assert [r.id for r in await repo.due_to_expire(later)] == ["abc000000001"]
    expired = await asyncio.gather(repo.expire("abc000000001", now=later), repo.expire("abc000000001", now=later))
    assert sum(expired) == 1


async def test_a_delivery_is_claimed_once_and_taken_over_only_after_its_lease(store: Repositories) -> None:
    repo = Approvals(store.engine)
    await repo.add(request())
    lease = timedelta(minutes=10)
    assert not await repo.claim_delivery("abc000000001", worker="a", now=NOW, lease=lease)  # not approved yet
    assert await repo.decide("abc000000001", "approved", by="U1", now=NOW)
    claims = await asyncio.gather(*(repo.claim_delivery("abc000000001", worker=w, now=NOW, lease=lease)
                                    for w in "abcd"))
    assert sum(claims) == 1
    assert not await repo.claim_delivery("abc000000001", worker="e", now=NOW + timedelta(minutes=9), lease=lease)
    assert [r.id for r in await repo.undelivered(NOW + timedelta(minutes=11), lease)] == ["abc000000001"]
    assert await repo.claim_delivery("abc000000001", worker="e", now=NOW + timedelta(minutes=11), lease=lease)
    await repo.finish_delivery("abc000000001", "delivered", now=NOW, key_expiration=NOW + timedelta(days=180))
    assert await repo.undelivered(NOW + timedelta(days=1), lease) == []
    assert await repo.prune(older_than=NOW + timedelta(days=1)) == 1 and await repo.get("abc000000001") is None


async def test_a_notice_is_claimed_by_one_worker_and_the_baseline_is_never_told(store: Repositories) -> None:
    notices = Notices(store.engine)
    key = ("bob", "ui_key", NOW + timedelta(days=3))
    await notices.watch(["bob"], NOW)
    await notices.settle([("bob", "old", NOW + timedelta(days=9))], "baseline", NOW)
    one = Notice(*key, first_seen=NOW, audience="owner:U0BOB", group_id="g1")
    two = Notice(*key, first_seen=NOW, audience="owner:U0BOB", group_id="g2")
    mine, theirs = await asyncio.gather(notices.claim([one], worker="w1", now=NOW),
                                        notices.claim([two], worker="w2", now=NOW))
    assert len(mine) + len(theirs) == 1
    assert await notices.all_keys(NOW) == {key, ("bob", "old", NOW + timedelta(days=9))}
    assert [n.key_name for n in await notices.unanswered(told_before=NOW)] == ["ui_key"]  # not the baseline
    assert await notices.open_count(NOW) == 1
    assert await notices.answer(key, "mine", by="U0BOB", now=NOW)
    assert not await notices.answer(key, "revoked", by="U0BOB", now=NOW)
    assert await notices.unwatch_all() == 1 and await notices.owners() == {}
    assert await notices.prune(expired_before=NOW + timedelta(days=40)) == 2
