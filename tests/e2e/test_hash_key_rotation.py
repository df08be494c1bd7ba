"""The keyed hash survives a rotation of the bot's own DataOS key, end to end over HTTP against the fakes.

Leak reports and self-link proofs keep a key only as a keyed hash. Its key used to be derived from
DATAOS_APIKEY at every start, so after the runbook's rotation every self-link ended ("key changed") and a
leaked key pasted again was news again. Now an install's first start keeps the key it derived (the same
derivation as before, so hashes an earlier version stored still match) and every later start, with any
operator key, reads it back."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.heimdall_model import OPERATOR_ID
from bot.playground.slack import SlackFake
from bot.store import create_engine
from bot.store.schema import IdentityLink, LeakReport
from tests.conftest import FakeClock
from tests.e2e.harness import make_settings, running_bot, table_rows, text_of, view_id_of

MALLORY = "U0MAL"


def answer(slack: SlackFake, user: Any, said: str, who: str = MALLORY) -> str:
    before = len(slack.responses())
    user.command(said, user=who)
    return text_of(slack.wait_for("response_url", before + 1)[before])


def paste(server: Any, user: Any, key: str, n: int) -> None:
    event = {"type": "message", "channel": "C0GEN", "user": "U0BOB", "text": f"try {key}",
             "ts": f"170000000{n}.000100", "channel_type": "channel"}
    assert user.event(event, event_id=f"EvROT{n}").status_code == 200
    assert server.call(server.runtime.drain(10))


def link_with(slack: SlackFake, server: Any, user: Any, key: str) -> str:
    opened = user.command_modal("link", user=MALLORY)
    before = len(slack.calls_to("views.update"))
    user.submit(view_id_of(opened), {"link_block": {"pasted_key": {"type": "plain_text_input", "value": key}}},
                user=MALLORY)
    said = text_of(slack.wait_for("views.update", before + 1)[before])
    assert server.call(server.runtime.drain(10))
    return said


def rotate(heimdall: HeimdallEmulator) -> str:
    """The runbook: a new key for the bot's own DataOS user, the old one revoked."""
    new = heimdall.add_token(OPERATOR_ID, "apikey_bot_2", hours=24 * 365).apikey
    heimdall.remove_token(OPERATOR_ID, "apikey_bot_operator")
    return new


def test_rotating_the_operator_key_keeps_self_links_and_leak_reports_matching(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, tmp_path: Path) -> None:
    slack.add_user(MALLORY, "mallory@elsewhere.org", name="Mallory")
    pasted = heimdall.add_token("alice", "pasted", hours=24 * 30)
    other = heimdall.add_token("alice", "other", hours=24 * 30)
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"), leak_watch=True)
    with running_bot(settings, clock, slack) as (server, user):
        assert "now linked to DataOS user `alice`" in link_with(slack, server, user, pasted.apikey)
        paste(server, user, other.apikey, 1)
    assert len(table_rows(server, LeakReport)) == 1
    rotated = make_settings(slack, heimdall, str(tmp_path / "bot.db"), leak_watch=True, DATAOS_APIKEY=rotate(heimdall))
    with running_bot(rotated, clock, slack) as (server, user):
        clock.advance(minutes=6)  # the link's proving key is checked again, against the kept hash
        said = answer(slack, user, "whoami")
        assert "`alice`" in said and "has ended" not in said and table_rows(server, IdentityLink) != []
        reports = [c for c in slack.delivered("chat.postMessage") if "leak_revoke" in text_of(c)]
        paste(server, user, other.apikey, 2)  # the same leaked key again: a repeat, not a new report
        repeats = [c for c in slack.delivered("chat.postMessage") if "Posted again" in str(c.params.get("text"))]
        assert len(repeats) == len(reports) >= 1 and len(table_rows(server, LeakReport)) == 1
        assert [c for c in slack.delivered("chat.postMessage") if "leak_revoke" in text_of(c)] == reports
        refused = link_with(slack, server, user, other.apikey)  # a leaked key still proves nothing
        assert "posted in a channel" in refused and "Nothing was linked" in refused


def _old_hash(operator_key: str, key: str) -> str:
    """How versions before 0010 keyed the hash: derived from DATAOS_APIKEY at every start."""
    secret = hmac.new(operator_key.encode(), b"apikey-bot leak watch", hashlib.sha256).digest()
    return hmac.new(secret, key.encode("ascii"), hashlib.sha256).hexdigest()


async def _an_install_at_0009(path: str, operator_key: str, pasted: Any, leaked: Any, now: str) -> None:
    from alembic import command

    from bot.store.db import _alembic_config

    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0009"))
        await conn.execute(text(
            "INSERT INTO identity_links (slack_user_id, dataos_user_id, method, linked_by, created_at, "
            "proof_fingerprint, proof_key_name, proof_expiration, proof_checked_at) VALUES "
            "(:s, 'alice', 'self', :s, :now, :fp, 'pasted', :exp, :now)"),
            {"s": MALLORY, "now": now, "fp": _old_hash(operator_key, pasted.apikey),
             "exp": pasted.expiration.strftime("%Y-%m-%d %H:%M:%S.000000")})
        await conn.execute(text(
            "INSERT INTO leak_reports (fingerprint, dataos_user_id, key_name, first_seen, last_seen, times, places, "
            "poster, channel, message_ts, key_expiration, to_admins) VALUES (:fp, 'alice', 'other', :now, :now, 1, "
            "'C0GEN', 'U0BOB', 'C0GEN', '1700000001.000100', NULL, 0)"),
            {"fp": _old_hash(operator_key, leaked.apikey), "now": now})
    await engine.dispose()


def test_hashes_stored_by_an_earlier_version_still_match_after_the_upgrade_and_a_rotation(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, tmp_path: Path) -> None:
    slack.add_user(MALLORY, "mallory@elsewhere.org", name="Mallory")
    pasted = heimdall.add_token("alice", "pasted", hours=24 * 30)
    leaked = heimdall.add_token("alice", "other", hours=24 * 30)
    path = str(tmp_path / "bot.db")
    first_key = heimdall.operator_key  # type: ignore[attr-defined]
    asyncio.run(_an_install_at_0009(path, first_key, pasted, leaked, clock.now().strftime("%Y-%m-%d %H:%M:%S.000000")))
    for rotated in (False, True):  # the upgrade's first start, then a start after a rotation
        operator_key = rotate(heimdall) if rotated else first_key
        settings = make_settings(slack, heimdall, path, leak_watch=True, DATAOS_APIKEY=operator_key)
        with running_bot(settings, clock, slack) as (server, user):
            clock.advance(minutes=6)
            said = answer(slack, user, "whoami")
            assert "`alice`" in said and "has ended" not in said
            refused = link_with(slack, server, user, leaked.apikey)
            assert "posted in a channel" in refused, refused
    assert [r["proof_key_name"] for r in table_rows(server, IdentityLink)] == ["pasted"]
