"""Repository tests, run on SQLite and on PostgreSQL (the `store` fixture is parametrised)."""

from __future__ import annotations

import asyncio
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import Audit, create_engine, current_revision, head_revision, migrate
from bot.store.db import SCHEMA_HEAD
from bot.store.schema import AuditEntry
from tests.repositories import Repositories

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


async def test_migrations_reach_head_and_are_idempotent(store: Repositories) -> None:
    assert await current_revision(store.engine) == head_revision() == SCHEMA_HEAD
    await migrate(store.engine)  # second run: nothing to do, no error
    assert await current_revision(store.engine) == head_revision()


async def test_an_older_schema_is_migrated_and_an_up_to_date_one_skips_alembic(tmp_path: Path) -> None:
    from sqlalchemy import text

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/old.db")
    await migrate(engine)
    async with engine.begin() as conn:  # as if this database were left at the previous version
        await conn.execute(text("DROP TABLE workflow_runs"))  # 0015
        await conn.execute(text("DROP TABLE slack_workspaces"))  # 0014 (slack_members, with its column, goes below)
        await conn.execute(text("DROP TABLE rotations"))
        await conn.execute(text("DROP TABLE rotation_targets"))
        await conn.execute(text("DROP TABLE teams"))
        for table in ("approval_requests", "approval_messages", "notice_owners", "key_notices", "notice_messages"):
            await conn.execute(text(f"DROP TABLE {table}"))  # 0013
        for table in ("minted_keys", "hash_keys", "team_group_members"):
            await conn.execute(text(f"DROP TABLE {table}"))
        await conn.execute(text("DROP TABLE offboardings"))
        for column in ("attempts", "claimed_at", "claimed_by", "error"):
            await conn.execute(text(f"ALTER TABLE scheduled_revocations DROP COLUMN {column}"))
        await conn.execute(text("DROP TABLE leak_reports"))
        await conn.execute(text("DROP TABLE leak_dms"))
        await conn.execute(text("DROP INDEX ix_idempotency_keys_created_at"))
        await conn.execute(text("DROP TABLE sweep_marks"))
        await conn.execute(text("DROP TABLE slack_members"))
        await conn.execute(text("ALTER TABLE swept_users DROP COLUMN listed_at"))
        await conn.execute(text("ALTER TABLE reminder_ledger DROP COLUMN retry_at"))
        await conn.execute(text("ALTER TABLE reminder_ledger DROP COLUMN error"))
        await conn.execute(text("DROP INDEX ix_identity_links_proof_fingerprint"))
        await conn.execute(text("DROP INDEX ix_identity_links_dataos_user_id"))
        for column in ("proof_fingerprint", "proof_key_name", "proof_expiration", "proof_checked_at"):
            await conn.execute(text(f"ALTER TABLE identity_links DROP COLUMN {column}"))
        await conn.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    await migrate(engine)
    assert await current_revision(engine) == SCHEMA_HEAD
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM sweep_marks"))).scalar() == 0
    await engine.dispose()


async def test_leak_reports_of_0005_keep_their_dms_whole(tmp_path: Path) -> None:
    """0008 moves the DM ids of a 0005 report (a clipped `notified` column) into rows of their own."""
    from alembic import command
    from sqlalchemy import text

    from bot.store.db import _alembic_config

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/old.db")
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0005"))
        await conn.execute(text(
            "INSERT INTO leak_reports (fingerprint, dataos_user_id, key_name, first_seen, last_seen, times, places, "
            "notified) VALUES ('f1', 'alice', 'etl', '2026-11-27 09:00:00', '2026-11-27 09:00:00', 2, 'C1 C2', "
            "'D0ALICE:1700000001.000100 D0ADMIN:17000')"))
    await migrate(engine)
    async with engine.connect() as conn:
        dms = (await conn.execute(text("SELECT recipient, state, channel, ts FROM leak_dms ORDER BY 1"))).all()
        report = (await conn.execute(text("SELECT times, places, to_admins FROM leak_reports"))).one()
    assert [tuple(d) for d in dms] == [("D0ADMIN", "sent", "D0ADMIN", "17000"),
                                       ("D0ALICE", "sent", "D0ALICE", "1700000001.000100")]
    assert tuple(report) == (2, "C1 C2", 0)
    await engine.dispose()


async def test_links_roundtrip_and_upsert(store: Repositories) -> None:
    assert await store.links.get_link("U1") is None
    await store.links.set_link("U1", "alice", method="self", linked_by="U1", now=NOW)
    link = await store.links.get_link("U1")
    assert link is not None and link.dataos_user_id == "alice" and link.method == "self"
    assert link.created_at == NOW and link.created_at.tzinfo is not None
    await store.links.set_link("U1", "alice2", method="admin", linked_by="UADMIN", now=NOW + timedelta(hours=1))
    link = await store.links.get_link("U1")
    assert link is not None and (link.dataos_user_id, link.method, link.linked_by) == ("alice2", "admin", "UADMIN")
    assert len(await store.links.links()) == 1
    assert await store.links.delete_link("U1") is True
    assert await store.links.delete_link("U1") is False


async def test_audit_filters_and_order(store: Repositories) -> None:
    for i, (actor, user) in enumerate([("U1", "alice"), ("U2", "bob"), ("U1", "alice")]):
        await store.audit_log.audit(Audit(at=NOW + timedelta(minutes=i), actor_slack_id=actor, action="create",
                                outcome="ok", dataos_user_id=user, key_name=f"k{i}",
                                key_expiration=NOW + timedelta(days=30)))
    await store.audit_log.audit(Audit(at=NOW - timedelta(days=10), actor_slack_id="U1", action="revoke", outcome="ok"))
    recent = await store.audit_log.recent_audit(since=NOW - timedelta(days=1))
    assert [a.key_name for a in recent] == ["k2", "k1", "k0"]
    assert [a.key_name for a in await store.audit_log.recent_audit(
        since=NOW - timedelta(days=1), dataos_user_id="bob")] == ["k1"]
    assert len(await store.audit_log.recent_audit(since=NOW - timedelta(days=30), actor_slack_id="U1")) == 3
    assert await store.database.count(AuditEntry) == 4


async def test_idempotency_claim_once(store: Repositories) -> None:
    assert await store.idempotency.claim_idempotency("V1:hash", "alice", NOW) is True
    assert await store.idempotency.claim_idempotency("V1:hash", "alice", NOW) is False
    row = await store.idempotency.get_idempotency("V1:hash")
    assert row is not None and row.state == "pending"
    await store.idempotency.finish_idempotency("V1:hash", state="done", now=NOW, key_name="k", key_expiration=NOW)
    row = await store.idempotency.get_idempotency("V1:hash")
    assert row is not None and (row.state, row.key_name, row.key_expiration) == ("done", "k", NOW)
    await store.idempotency.release_idempotency("V1:hash")
    assert await store.idempotency.claim_idempotency("V1:hash", "alice", NOW) is True
    assert await store.idempotency.prune_idempotency(NOW + timedelta(seconds=1)) == 1


async def test_idempotency_concurrent_claims_one_winner(store: Repositories) -> None:
    results = await asyncio.gather(*(store.idempotency.claim_idempotency("race", "alice", NOW) for _ in range(10)))
    assert sorted(results) == [False] * 9 + [True]


async def test_ping(store: Repositories) -> None:
    await store.database.ping()


async def test_sqlite_file_is_private_and_folder_created(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "bot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    await engine.dispose()
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
