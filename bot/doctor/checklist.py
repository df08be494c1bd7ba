"""doctor's checklist: the configuration, Slack, DataOS, the database and the key policy, then the checks of
the modules beside it, in the order a person fixes things (`run_doctor`)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url

from bot.config import EXAMPLE_VALUES, ConfigError, Settings, normalise_heimdall_url
from bot.dataos import DataOSError, DataOSForbidden, HeimdallClient
from bot.doctor.check import Check, Status
from bot.doctor.grid import grid_findings
from bot.doctor.store import check_store
from bot.doctor.teams import check_team_channels
from bot.identity import slack_error
from bot.manifest import LEAK_WATCH_SCOPES, bot_scopes
from bot.policy import policy_of
from bot.proxies import use_proxy_rule
from bot.store import DatabaseUnusable, create_engine, current_revision, head_revision, safe_database_url
from bot.vault.operator import OperatorKeyUnavailable
from bot.vault.setup import make_operator, make_store

if TYPE_CHECKING:
    pass

#: The bot's own key expiring sooner than this is worth a warning.
WARN_DAYS = 14
#: Where a person finds the ids Slack settings take (Slack's client shows neither by default).
MEMBER_ID_HOW = "in Slack: open the person's profile, click ⋮ More, then Copy member ID"
CHANNEL_ID_HOW = "in Slack: click the channel's name to open its details; the channel ID is at the bottom"
#: What to set each setting to instead of the example `.env.example` gives it.
SET_INSTEAD = {
    "SLACK_BOT_TOKEN": "the app's Bot User OAuth Token (xoxb-…, on its Install App page)",
    "SLACK_SIGNING_SECRET": "the app's Signing Secret (its Basic Information page)",
    "SLACK_APP_TOKEN": "an app-level token with connections:write (Basic Information → App-Level Tokens), or "
                       "remove the line for HTTP mode",
    "HEIMDALL_URL": "https://<your DataOS FQDN>/heimdall",
    "DATAOS_APIKEY": "a key of a DataOS application user with the operator role",
    "ADMIN_SLACK_USER_IDS": f"your platform admins' member ids, comma-separated ({MEMBER_ID_HOW})",
    "AUDIT_CHANNEL": f"the id of the channel for audit lines ({CHANNEL_ID_HOW}), or remove the line",
}


async def check_slack(settings: Settings) -> list[Check]:
    client = use_proxy_rule(AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                                           base_url=settings.slack_api_url), settings.slack_api_url)
    try:
        return await _slack_checks(client, settings)
    finally:
        session = getattr(client, "session", None)
        if session is not None:
            await session.close()


async def _slack_checks(client: AsyncWebClient, settings: Settings) -> list[Check]:
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        return [Check("Slack auth.test", "fail", f"Slack answered `{slack_error(exc)}`; check SLACK_BOT_TOKEN "
                      "(Install App page, Bot User OAuth Token)")]
    except (aiohttp.ClientError, TimeoutError) as exc:
        return [Check("Slack auth.test", "fail", f"cannot reach {settings.slack_api_url} ({type(exc).__name__})")]
    checks = [Check("Slack auth.test", "ok", f"bot user {response.get('user')} in workspace {response.get('team')}")]
    granted = {s.strip() for s in str(_header(response.headers, "x-oauth-scopes")).split(",") if s.strip()}
    wanted = bot_scopes(leak_watch=settings.leak_watch)
    missing = sorted(set(wanted) - granted)
    manifest = "apikey-bot manifest" + (" --leak-watch" if settings.leak_watch else "")
    if missing:
        checks.append(Check("Slack scopes", "fail", f"missing {', '.join(missing)}; add them (or recreate the app "
                            f"from `{manifest}`) and reinstall the app"))
    else:
        checks.append(Check("Slack scopes", "ok", "has " + ", ".join(wanted)))
    history = sorted(granted & set(LEAK_WATCH_SCOPES))
    if history and not settings.leak_watch:
        checks.append(Check("leak watch", "warn", f"the app may read channel messages ({', '.join(history)}) but "
                            "LEAK_WATCH is off: turn it on, or remove those scopes (`apikey-bot manifest`)"))
    elif settings.leak_watch:
        checks.append(Check("leak watch", "ok" if not missing else "fail",
                            "on: messages in channels the bot is in are checked for pasted DataOS keys"))
    if settings.audit_channel:
        checks.append(await check_audit_channel(client, settings.audit_channel, str(response.get("user") or "")))
    if settings.admin_slack_user_ids:
        checks.append(await check_admins(client, settings.admin_slack_user_ids))
    auth = response.data if isinstance(response.data, dict) else {}
    channels = {name: value for name, value in (("AUDIT_CHANNEL", settings.audit_channel),
                                                ("APPROVAL_CHANNEL", settings.approval_channel),
                                                ("DIGEST_CHANNEL", settings.digest_channel)) if value}
    checks += [Check(*found) for found in await grid_findings(client, auth, channels)]  # Enterprise Grid
    return checks


async def check_admins(client: AsyncWebClient, admins: list[str]) -> Check:
    """Admin notices (a deactivated member's keys, a team left without owners or whose channel refuses the
    bot, a revocation that did not happen) go to the admins Slack shows as active: with none, to nobody."""
    name = "admins"
    active: list[str] = []
    gone: list[str] = []
    for admin in admins:
        try:
            user = (await client.users_info(user=admin)).get("user") or {}
        except SlackApiError as exc:
            if slack_error(exc) != "user_not_found":
                return Check(name, "warn", f"could not look up {admin} (Slack answered `{slack_error(exc)}`)")
            gone.append(f"{admin} (unknown to Slack)")
            continue
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Check(name, "warn", f"could not look up {admin} ({type(exc).__name__})")
        if user.get("deleted") or user.get("is_bot"):
            gone.append(f"{admin} ({'a bot' if user.get('is_bot') else 'deactivated'})")
        else:
            active.append(admin)
    if not active:
        return Check(name, "fail", f"no active admin in ADMIN_SLACK_USER_IDS ({', '.join(gone)}): offboarding "
                     "notices and other admin messages would reach nobody. Add the member id (U…) of an active "
                     "admin: in Slack, their profile → ⋮ → Copy member ID")
    if gone:
        return Check(name, "warn", f"{len(active)} active; not told anything: {', '.join(gone)}. Remove them from "
                     "ADMIN_SLACK_USER_IDS")
    return Check(name, "ok", f"{len(active)} active admin{'s' if len(active) != 1 else ''}")


async def check_audit_channel(client: AsyncWebClient, channel: str, bot_name: str) -> Check:
    """Slack refuses posts to a channel the bot is not in (`not_in_channel`): every audit line would only
    reach the log. conversations.info says whether the bot is in it."""
    name = "audit channel"
    bot = f"@{bot_name or 'apikey-bot'}"
    try:
        info = (await client.conversations_info(channel=channel)).get("channel") or {}
    except SlackApiError as exc:
        error = slack_error(exc)
        if error == "channel_not_found":
            return Check(name, "fail", f"AUDIT_CHANNEL={channel} is not a channel the bot can see: set it to the "
                         f"channel's id (C…; {CHANNEL_ID_HOW}); a private channel must have {bot} invited "
                         f"(`/invite {bot}` in it)")
        if error == "missing_scope":
            return Check(name, "fail", "the app may not read channel details (channels:read, groups:read); add "
                         "them (or recreate the app from `apikey-bot manifest`) and reinstall the app")
        return Check(name, "fail", f"Slack answered `{error}` for AUDIT_CHANNEL={channel}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check(name, "fail", f"could not look up AUDIT_CHANNEL={channel} ({type(exc).__name__})")
    shown = f"#{info.get('name') or channel}"
    if info.get("is_archived"):
        return Check(name, "fail", f"{shown} is archived: unarchive it or set AUDIT_CHANNEL to another channel")
    if not info.get("is_member"):
        return Check(name, "fail", f"the bot is not in {shown}, so audit lines cannot be posted there: invite "
                     f"{bot} to {shown} (`/invite {bot}` in the channel)")
    return Check(name, "ok", f"the bot is in {shown}")


def _header(headers: object, name: str) -> str:
    if isinstance(headers, Mapping):  # a CIMultiDictProxy from aiohttp, or a dict
        for key, value in headers.items():
            if str(key).lower() == name:
                return ",".join(value) if isinstance(value, list) else str(value)
    return ""


async def check_dataos(settings: Settings, now: datetime) -> list[Check]:
    key = settings.dataos_apikey
    if key is None:  # DATAOS_APIKEY_FROM: read from the store, as the bot does at start-up
        store = make_store(settings)
        operator = make_operator(store, settings.dataos_apikey_from, lambda k: None, time.monotonic)
        try:
            assert operator is not None
            await operator.load()
            key = SecretStr(operator.current)
        except OperatorKeyUnavailable as exc:
            return [Check("DataOS key", "fail", str(exc))]
        finally:
            if store is not None:
                await store.aclose()
    client = HeimdallClient(settings.heimdall_url, key, timeout=settings.dataos_timeout_seconds,
                            retries=1, max_response_bytes=settings.dataos_max_response_mb * 1024 * 1024)
    try:
        return await _dataos_checks(client, settings, key, now)
    finally:
        await client.aclose()


async def _dataos_checks(client: HeimdallClient, settings: Settings, key: SecretStr, now: datetime) -> list[Check]:
    try:
        owner = (await client.authorize(key)).user_id
    except DataOSError as exc:
        return [Check("DataOS key", "fail", f"{exc} (HEIMDALL_URL={settings.heimdall_url})")]
    if owner is None:
        return [Check("DataOS key", "fail", "DATAOS_APIKEY is not valid: unknown, revoked or expired")]
    checks = [Check("DataOS key", "ok", f"valid, belongs to `{owner}`")]
    try:
        users = await client.list_users(limit=settings.dataos_users_limit)
        if users.received >= settings.dataos_users_limit:
            checks.append(Check("DataOS user directory", "fail", f"DataOS answered exactly DATAOS_USERS_LIMIT="
                                f"{settings.dataos_users_limit} users, so people past them are never matched by "
                                "e-mail and get no reminders; raise DATAOS_USERS_LIMIT"))
        else:
            checks.append(Check("DataOS user directory", "ok", f"{len(users)} users, below DATAOS_USERS_LIMIT="
                                f"{settings.dataos_users_limit}"))
        other = next((u for u in users if u.is_person and u.id != owner), None)
        if other is not None:
            await client.list_tokens(other.id)
        checks.append(Check("DataOS operator rights", "ok",
                            f"can manage other users' keys ({len(users)} users visible)" if other else
                            "no other person to test with; rights unverified"))
    except DataOSForbidden:
        checks.append(Check("DataOS operator rights", "fail", f"`{owner}` may not manage other users' keys; give "
                            "it the operator role or a role with the manage-user-tokens use-case"))
    except DataOSError as exc:
        checks.append(Check("DataOS operator rights", "fail", str(exc)))
    try:
        own = key.get_secret_value()
        token = next((t for t in await client.list_tokens(owner)
                      if t.secret is not None and t.secret.get_secret_value() == own), None)
    except DataOSError as exc:
        checks.append(Check("DataOS key expiry", "warn", f"could not list the bot's own keys ({exc})"))
        return checks
    if token is None:
        checks.append(Check("DataOS key expiry", "warn", "the key is not in its owner's list; expiry unknown"))
        return checks
    days = (token.expiration - now).total_seconds() / 86400
    detail = f"`{token.name}` expires {token.expiration:%Y-%m-%d %H:%M} UTC, in {days:.0f} days"
    status: Status = "warn" if days < WARN_DAYS else "ok"
    checks.append(Check("DataOS key expiry", status, detail + ("; rotate it soon" if status == "warn" else "")))
    return checks


def _fresh_sqlite(shown: str, path: str) -> Check:
    """A fresh install has no SQLite file yet: fine, if the bot will be able to create it."""
    folder = os.path.dirname(os.path.abspath(path))
    existing = folder
    while not os.path.exists(existing):  # the folder is created too: the nearest existing parent must be writable
        existing = os.path.dirname(existing)
    if os.path.isdir(existing) and os.access(existing, os.W_OK | os.X_OK):
        return Check("database", "ok", f"{shown}: not created yet; `apikey-bot serve` creates {path} at first "
                     "start (its folder is writable)")
    return Check("database", "fail", f"{shown}: {existing} is not a writable folder, so the database file cannot "
                 "be created")


async def check_database(settings: Settings) -> list[Check]:
    url = settings.database_url
    shown = safe_database_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        if path and path != ":memory:" and not os.path.exists(path):  # noqa: ASYNC240 (one stat, at start)
            return [_fresh_sqlite(shown, path)]
    try:
        engine = create_engine(url)
    except DatabaseUnusable as exc:  # a SQLite path that is there but is not a file it can open
        return [Check("database", "fail", str(exc))]
    try:
        revision = await asyncio.wait_for(current_revision(engine), timeout=10)
    except Exception as exc:
        return [Check("database", "fail", f"{shown} is unreachable ({type(exc).__name__})")]
    finally:
        await engine.dispose()
    checks = [Check("database", "ok", f"{shown} reachable")]
    head = head_revision()
    if revision == head:
        checks.append(Check("database schema", "ok", f"migrated (revision {head})"))
    else:
        checks.append(Check("database schema", "fail", f"at revision {revision or 'none'}, this version needs "
                            f"{head}; `apikey-bot serve` migrates at start-up"))
    return checks


def examples_left(settings: Settings) -> list[str]:
    """The settings that still hold the example value `.env.example` gave them."""
    left = []
    for name, example in EXAMPLE_VALUES.items():
        value = getattr(settings, name.lower(), None)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if name == "HEIMDALL_URL":
            example = normalise_heimdall_url(example)
        if (isinstance(value, list) and set(value) & set(example.split(","))) or value == example:
            left.append(name)
    return left


def check_settings(settings: Settings, left: list[str]) -> list[Check]:
    """What only the person setting the bot up can fix: examples left in place, and the two optional
    settings a first set-up nearly always wants."""
    checks = [Check("configuration", "fail", f"{name} still holds the example value from .env.example; set it to "
                    f"{SET_INSTEAD[name]}") for name in left]
    if not settings.admin_slack_user_ids:
        checks.append(Check("admins", "warn", "ADMIN_SLACK_USER_IDS is not set: nobody may use `/apikey admin`, and "
                            "nobody is told when the bot's own DataOS key nears its expiry, a member with keys is "
                            "deactivated or a leaked key has no owner to tell. Set it to your platform admins' member "
                            f"ids, comma-separated ({MEMBER_ID_HOW})"))
    if settings.audit_channel is None:
        checks.append(Check("audit channel", "warn", "AUDIT_CHANNEL is not set: creates, revokes, reveals and links "
                            "are recorded in the bot's database only (`/apikey admin audit`). For one line each in a "
                            f"channel, set it to the channel's id ({CHANNEL_ID_HOW}) and invite the bot"))
    return checks


async def _checked(name: str, examples: list[str], check: Callable[[], Awaitable[list[Check]]]) -> list[Check]:
    """`check()`, unless settings it needs still hold their example value: an example token or URL would
    only earn a second, vaguer failure (invalid_auth, a DNS error), after a wait."""
    if not examples:
        return await check()
    verb = "holds" if len(examples) == 1 else "hold"
    return [Check(name, "warn", f"not checked while {' and '.join(examples)} {verb} the example value")]


async def run_doctor(settings: Settings, *, now: datetime | None = None) -> list[Check]:
    now = now or datetime.now(UTC)
    mode = "Socket Mode and HTTP" if settings.slack_app_token else "HTTP mode"
    where = safe_database_url(settings.database_url)
    config = [Check("configuration", "ok", f"{mode}; port {settings.port}; database {where}")]
    if settings.slack_signing_secret is None and settings.slack_app_token is None:
        config.append(Check("configuration", "fail", "neither SLACK_SIGNING_SECRET (HTTP mode) nor SLACK_APP_TOKEN "
                            "(Socket Mode) is set"))
    left = examples_left(settings)
    config += check_settings(settings, left) + check_policy(settings)
    slack_example = [n for n in left if n == "SLACK_BOT_TOKEN"]
    dataos_example = [n for n in left if n in ("HEIMDALL_URL", "DATAOS_APIKEY")]
    slack, dataos, database = await asyncio.gather(
        _checked("Slack auth.test", slack_example, lambda: check_slack(settings)),
        _checked("DataOS key", dataos_example, lambda: check_dataos(settings, now)),
        check_database(settings))
    teams: list[Check] = []
    store: list[Check] = []
    schema_ok = any(c.name == "database schema" and c.status == "ok" for c in database)
    if not slack_example and schema_ok:
        teams = await check_team_channels(settings)
    if schema_ok:
        store = await check_store(settings)
    return config + slack + dataos + database + teams + store


def check_policy(settings: Settings) -> list[Check]:
    """POLICY_FILE, read as the bot reads it at start-up (which refuses a broken one)."""
    if not settings.policy_file:
        return []
    try:
        policy = policy_of(settings)
    except ConfigError as exc:
        return [Check("key policy", "fail", str(exc).removeprefix("configuration error: "))]
    assert policy is not None
    count = len(policy.rules)
    return [Check("key policy", "ok", f"{settings.policy_file}: {count} rule{'s' if count != 1 else ''} and the "
                                      "defaults (`apikey-bot policy check` prints them)")]


