"""doctor's checks of the secret store (VAULT_ADDR): reachable and unsealed, the bot's login and its token's
TTL, and the capabilities on every rotation path (and DATAOS_APIKEY_FROM's), with the policy to grant."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.doctor.check import Check, Status
from bot.domain.rotation import missing_capabilities, needed_capabilities, parse_target, policy_for
from bot.store import create_engine
from bot.store.rotations import Rotations
from bot.vault import VaultError
from bot.vault.setup import make_store

if TYPE_CHECKING:
    from bot.vault.client import VaultClient


async def check_store(settings: Settings) -> list[Check]:
    """The secret store (VAULT_ADDR): reachable, the bot logged in, its token's TTL, and for every rotating
    key (and DATAOS_APIKEY_FROM) the capabilities on its path, with the policy to grant when some lack."""
    client = make_store(settings)
    if client is None:
        return []
    try:
        return await _store_checks(client, settings)
    finally:
        await client.aclose()


async def _store_checks(client: VaultClient, settings: Settings) -> list[Check]:
    try:
        health = await client.health()
    except VaultError as exc:
        return [Check("Vault", "fail", f"{settings.vault_addr} cannot be used: {exc}")]
    if health.get("sealed"):
        return [Check("Vault", "fail", f"{settings.vault_addr} is sealed: unseal it, then run doctor again")]
    checks = [Check("Vault", "ok", f"{settings.vault_addr} answers (version {health.get('version')})")]
    try:
        info = await client.lookup_self()
    except VaultError as exc:
        return [*checks, Check("Vault login", "fail", f"{exc} ({client.auth.method} auth)")]
    ttl = "never expires" if info.ttl == 0 else f"expires in {info.ttl // 3600} h {info.ttl % 3600 // 60} min"
    renew = "renewed by the bot" if info.renewable else ("the bot logs in again before then"
                                                         if client.auth.method != "token" else "cannot be renewed")
    status: Status = "warn" if info.ttl and not info.renewable and client.auth.method == "token" else "ok"
    checks.append(Check("Vault login", status, f"{client.auth.method} auth; policies {', '.join(info.policies)}; "
                        f"token {ttl}" + ("" if info.ttl == 0 else f", {renew}")))
    engine = create_engine(settings.database_url)
    try:
        targets = [t.target for t in await asyncio.wait_for(Rotations(engine).targets(), timeout=10)]
    except Exception as exc:
        return [*checks, Check("Vault paths", "warn", f"could not read the rotations ({type(exc).__name__})")]
    finally:
        await engine.dispose()
    wanted = dict.fromkeys([*targets, *([settings.dataos_apikey_from] if settings.dataos_apikey_from else [])])
    if not wanted:
        return checks
    problems: list[str] = []
    for text in wanted:
        target = parse_target(text)
        try:
            held = await client.capabilities(list(needed_capabilities(target)))
        except VaultError as exc:
            problems.append(f"{target.location}: {exc}")
            continue
        missing = missing_capabilities(target, held)
        if missing:
            lacking = "; ".join(f"{path} lacks {', '.join(caps)}" for path, caps in missing.items())
            problems.append(f"{lacking}. Grant the bot's policy:\n{policy_for(target)}")
    if problems:
        return [*checks, Check("Vault paths", "fail", "\n".join(problems))]
    return [*checks, Check("Vault paths", "ok", f"the bot may read and write all {len(wanted)} rotation path(s)")]
