"""The runtime: one object that owns the HTTP clients, the database engine and the services (see `bot.app`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app.progress import InProgress
from bot.app.reachability import unreachable
from bot.approvals.wiring import governance_parts
from bot.audience import SlackDirectory
from bot.audit import AuditTrail
from bot.config import Settings
from bot.dataos import HeimdallClient
from bot.delivery import TOKEN_ERRORS, OutcomeBook, SweepReport, slack_code
from bot.domain.durations import parse_duration_hours
from bot.domain.policy import ValidityPolicy
from bot.identity import DataOSDirectory, IdentityResolver, SlackProfiles, Workspace, failure, slack_error
from bot.leak_gate import CheckGate
from bot.metrics import SLACK_TOKEN_LOST, TOKEN_LOSS_CAUSES, CountingRateLimitHandler, dataos_observer
from bot.proxies import session_middleware, use_proxy_rule
from bot.self_links import SelfLinks
from bot.service import KeyService
from bot.store import (
    AuditLog,
    Database,
    IdempotencyClaims,
    KeySightings,
    LeakReports,
    Ledger,
    Links,
    Members,
    Offboardings,
    Preferences,
    ScheduledRevocations,
    SlackEvents,
    SweepMarks,
    create_engine,
    migrate,
)
from bot.store.hash_keys import HashKeys, first_key
from bot.store.rotations import Rotations
from bot.store.teams import TeamsRepo
from bot.store.workflow_runs import WorkflowRuns
from bot.teams import Teams
from bot.vault.setup import make_operator, make_store

log = logging.getLogger(__name__)
#: The longest a listener's follow-up work waits for other requests' acknowledgements.
ACK_PRIORITY_SECONDS = 0.1
Clock = Callable[[], datetime]
Sleep = Callable[[float], Any]
#: /readyz's word for the Slack token until Slack has answered auth.test: it was never reached (Slack
#: unreachable at start-up), so nothing is known yet. Not a reason to be unready: Slack may be reachable
#: from where its requests come in, and the first request that needs Slack asks again.
NOT_CHECKED = "not checked"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        dataos_sleep: Sleep | None = None,
        slack_sleep: Sleep | None = None,
        engine: AsyncEngine | None = None,
        sweep_at_start: bool = True,
        db_sleep: Sleep | None = None,
        timer: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        # Waits for a person's sake (say "still looking" after 1.5 s), injected so tests drive them by clock.
        self.timer = timer or asyncio.sleep
        self.sweep_at_start = sweep_at_start
        self.clock = clock
        self.monotonic = monotonic
        self.policy = ValidityPolicy(
            presets=tuple(settings.preset_hours), default=settings.default_validity_hours,
            maximum=settings.max_validity_hours,
        )
        kwargs: dict[str, Any] = {"sleep": dataos_sleep} if dataos_sleep is not None else {}
        #: The operator key now: DATAOS_APIKEY, or read from the store (DATAOS_APIKEY_FROM, `self.operator`).
        self.operator_key: SecretStr = settings.dataos_apikey or SecretStr("")
        #: The secret store (Vault / OpenBao) when VAULT_ADDR is set, and the operator key's place in it.
        self.vault = make_store(settings)
        self.operator = make_operator(self.vault, settings.dataos_apikey_from, self.use_operator_key, monotonic)
        self.dataos = HeimdallClient(settings.heimdall_url, self.operator_key,
                                     timeout=settings.dataos_timeout_seconds, observer=dataos_observer,
                                     max_connections=max(20, settings.sweep_concurrency * 2),
                                     max_response_bytes=settings.dataos_max_response_mb * 1024 * 1024,
                                     refresh_key=self.operator.refresh if self.operator else None, **kwargs)
        # Only 429s are retried: a connection error after sending could repeat a chat.postMessage.
        self.slack = use_proxy_rule(AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
            retry_handlers=[CountingRateLimitHandler(max_retry_count=2, sleep=slack_sleep or asyncio.sleep,
                                                     monotonic=monotonic)],
        ), settings.slack_api_url)
        self.engine = engine if engine is not None else create_engine(settings.database_url)
        # One repository per concern, over the one engine; each part of the bot takes the ones it uses.
        self.database = Database(self.engine)
        self.audit_log = AuditLog(self.engine)
        self.idempotency = IdempotencyClaims(self.engine)
        self.sightings = KeySightings(self.engine)
        self.ledger = Ledger(self.engine)
        self.marks = SweepMarks(self.engine)
        self.revocations = ScheduledRevocations(self.engine)
        self.members = Members(self.engine)
        self.events = SlackEvents(self.engine)
        self.prefs = Preferences(self.engine)
        self.links = Links(self.engine)
        self.leak_reports = LeakReports(self.engine)
        self.offboardings = Offboardings(self.engine)  # deactivations, until a reactivation undoes them
        self.directory = DataOSDirectory(self.dataos, settings.directory_ttl_seconds, clock=monotonic,
                                         limit=settings.dataos_users_limit)
        self.profiles = SlackProfiles(self.slack, settings.slack_profile_ttl_seconds, clock=monotonic)
        # The directory walk waits out users.list's 429s itself (and goes on from the same cursor), so its
        # client has no retry handler: the stock one gives up after two waits.
        self._walk_client = use_proxy_rule(AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                                                          base_url=settings.slack_api_url, retry_handlers=[]),
                                           settings.slack_api_url)
        self.slack_directory = SlackDirectory(self._walk_client, self.members, sleep=slack_sleep or asyncio.sleep,
                                              home=self.workspace, allow_guests=settings.allow_guests, clock=clock)
        self.snooze_hours = parse_duration_hours(settings.snooze)
        self.renew_grace_hours = parse_duration_hours(settings.renew_grace)
        # The leak watch, self-links and rotations keep keys only as a keyed hash (the same one, so a leak report
        # finds the links a key made), whose key is kept in the database (`hash_key`).
        self.hash_keys = HashKeys(self.engine)
        self._hash_key: bytes | None = None
        self._hash_lock = asyncio.Lock()
        trail = AuditTrail(self.audit_log, self.slack, settings.audit_channel, sleep=slack_sleep or asyncio.sleep,
                           monotonic=monotonic, work=self.work)
        self.self_links = SelfLinks(self.links, self.dataos, trail, clock, self.hash_key, tell=self.dm)
        self.resolver = IdentityResolver(self.links, self.directory, self.profiles, clock=monotonic,
                                         admins=settings.admin_slack_user_ids, self_links=self.self_links,
                                         home=self.workspace, allow_guests=settings.allow_guests)
        self.keys = KeyService(self.dataos, self.resolver, clock, trail, links=self.links,
                               idempotency=self.idempotency, sightings=self.sightings,
                               operator_key=self.operator_key, self_links=self.self_links)
        self.admins = frozenset(settings.admin_slack_user_ids)
        self.leak_gate = CheckGate(settings.leak_watch_checks_per_minute, queue_size=settings.leak_watch_queue,
                                   clock=monotonic)
        #: Team keys: who owns each application user's keys (people and user groups) and its channel.
        self.teams = Teams(TeamsRepo(self.engine), self.slack, clock, monotonic=monotonic)
        #: The key policy, approvals (their Slack surface set by bot.compose), notices: bot.approvals.wiring.
        parts = governance_parts(settings, engine=self.engine, base=self.policy, teams=self.teams,
                                 resolver=self.resolver, admins=self.admins, keys=self.keys,
                                 revocations=self.revocations, trail=trail, clock=clock)
        self.key_policy, self.governance, self.approvals = parts.key_policy, parts.governance, parts.approvals
        self.approval_requests, self.notices = parts.approval_requests, parts.notices
        self.policy = self.governance.widest()  # forms carry up to the longest any rule allows; each is decided again
        self.rotations = Rotations(self.engine)  # keys that rotate themselves into the store
        self.workflow_runs = WorkflowRuns(self.engine)  # Workflow Builder step executions, each handled once
        #: Rotate now / Retry (application user, key name, expiry, trigger), set by `bot.compose` (as `sweep_now`).
        self.rotate_now: Callable[[str, str, datetime, str], Awaitable[str]] | None = None
        self._bot_user_id: str | None = None
        self._workspace: Workspace | None = None
        self._slack_answered = False  # auth.test has answered with this token (see readiness)
        self._warmup: asyncio.Task[None] | None = None
        self._slack_check: asyncio.Task[None] | None = None
        self._migrated = False
        self._working = InProgress()  # listener work, which goes on after Slack's ack
        self._acking = InProgress()  # requests whose acknowledgement has not been sent yet
        self._sweeping = InProgress()  # scheduled sweeps running
        self.scheduler: Any = None  # the reminder and housekeeping jobs, set by `bot.compose.start_runtime`
        #: Runs a reminder sweep now ("auto" or "discovery"), for the admin command; set by `bot.compose`,
        #: which knows the sweep (it sits above the Slack listeners that call it).
        self.sweep_now: Callable[[str], Awaitable[SweepReport]] | None = None
        # Reminder outcomes the database has not taken yet (written by the next pass, or at exit).
        self.outcomes = OutcomeBook(sleep=db_sleep or asyncio.sleep)
        #: Why Slack will take nothing from this bot any more (uninstalled, token revoked), once it says so.
        self.slack_stopped: str | None = None

    async def start(self) -> None:
        """Read the operator key from the store (DATAOS_APIKEY_FROM), migrate the schema and load the DataOS
        directory in the background (readyz waits for it). The scheduler is started by `bot.compose`."""
        if self.operator is not None:
            await self.operator.load()
        # One pooled aiohttp session for every Slack call (the SDK would open one per call otherwise).
        if self.slack.session is None:
            self.slack.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, limit_per_host=100, keepalive_timeout=30),
                middlewares=(session_middleware,))  # the proxy rule, whatever each SDK client read itself
            self._walk_client.session = self.slack.session
        # The directory loads over the network while the schema is checked: readiness waits for both.
        self._warmup = asyncio.create_task(self._warm_directory())
        try:
            await migrate(self.engine)
        except BaseException:
            self._warmup.cancel()
            raise
        self._migrated = True
        await self.hash_key()  # the first start of an install stores it, before any request needs it

    def use_operator_key(self, key: SecretStr) -> None:
        """The bot calls DataOS with `key` from now on (its own key was rotated)."""
        self.operator_key = key
        self.dataos.set_apikey(key)
        self.keys.use_operator_key(key)
        if self.operator is not None:
            self.operator.used(key)

    async def _warm_directory(self) -> None:
        delay = 1.0
        told = False
        while not self.directory.loaded:
            try:
                await self.directory.ensure_loaded()  # under its lock: a sweep starting now waits for this load
            except Exception as exc:
                if not told:
                    # Retries with back-off look like a bot at work: the first failure says plainly what is wrong.
                    told = True
                    log.error("%s; the bot keeps retrying. Run `apikey-bot doctor` to check the configuration.",
                              unreachable("DataOS", self.settings.heimdall_url, exc))
                else:
                    log.warning("could not load the DataOS directory (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    def check_slack_in_background(self) -> None:
        """At start-up: ask Slack who the bot is (auth.test), and say so in one line if Slack cannot be
        reached or refuses the token: otherwise the first sign would be a person's failed command."""
        self._slack_check = asyncio.create_task(self._check_slack())

    async def _check_slack(self) -> None:
        try:
            response = await self.slack.auth_test()
        except SlackApiError as exc:
            if self.slack_stopped is not None:
                return  # a reminder pass met the refusal first and said so
            log.error("Slack refused the bot token (auth.test answered `%s`); every request will fail until it is "
                      "fixed. Run `apikey-bot doctor` to check the configuration.", slack_error(exc))
            code = slack_code(exc)
            if code in TOKEN_ERRORS:  # dead for good: reminders stop and /readyz says so (the line above told)
                self.stop_slack(f"auth.test answered {code} at start-up", code, logged=True)
            return
        except Exception as exc:
            log.error("%s; the bot tries again with each request. Run `apikey-bot doctor` to check the "
                      "configuration.", unreachable("Slack", self.settings.slack_api_url, exc))
            return
        self._remember_auth(response)

    @contextlib.asynccontextmanager
    async def work(self) -> AsyncIterator[None]:
        """Marks listener work in progress (it goes on after Slack's ack), so shutdown can wait for it."""
        with self._working.hold():
            yield

    def sweeping(self) -> contextlib.AbstractContextManager[None]:
        """Marks a scheduled sweep in progress (see `stop_scheduler`)."""
        return self._sweeping.hold()

    async def stop_scheduler(self, seconds: float = 10.0) -> None:
        """Stop the scheduler; a sweep it is running is cancelled, and waited for (up to `seconds`) while
        it records what it already sent, so that the database and clients are still open for that."""
        if self.scheduler is None:
            return
        self.scheduler.shutdown(wait=False)  # cancels the running job
        self.scheduler = None
        try:
            await asyncio.wait_for(self._sweeping.none.wait(), seconds)
        except TimeoutError:
            log.warning("a reminder sweep was still stopping after %.0f s", seconds)

    def acknowledging(self) -> contextlib.AbstractContextManager[None]:
        """Marks a request whose acknowledgement has not been sent yet (see `after_acks`)."""
        return self._acking.hold()

    async def after_acks(self) -> None:
        """Let pending acknowledgements go first, for at most ACK_PRIORITY_SECONDS.

        Slack's 3 seconds are a hard limit and the work after an ack has none, so in a burst each
        listener steps aside until the burst has been acknowledged; the wait is bounded so that a
        steady stream of requests cannot starve the work.
        """
        await asyncio.sleep(0)  # requests that arrived meanwhile get to start (and be counted) first
        if self._acking.count:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._acking.none.wait(), ACK_PRIORITY_SECONDS)

    async def drain(self, seconds: float) -> bool:
        """Wait up to `seconds` for work in progress; True if none is left."""
        try:
            await asyncio.wait_for(self._working.none.wait(), seconds)
        except TimeoutError:
            log.warning("shutting down with %d requests still being worked on", self._working.count)
            return False
        return True

    def stop_slack(self, reason: str, cause: str, *, logged: bool = False) -> None:
        """Slack refuses the bot's token for good (`cause`: the event or error code that said so): reminder
        passes stop, /readyz says why, and this is logged once as an ERROR (unless the caller has)."""
        if self.slack_stopped is not None:
            return
        self.slack_stopped = reason
        SLACK_TOKEN_LOST.labels(cause if cause in TOKEN_LOSS_CAUSES else "other").inc()
        if logged:
            return
        log.error("Slack refuses this bot's token: %s. Reminders are stopped and /readyz answers 503 until the "
                  "app is reinstalled and the bot restarted with the new token.", reason)

    async def readiness(self) -> dict[str, str]:
        """Each check's state; ready when all are "ok" (or the Slack token is NOT_CHECKED)."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(self.database.ping(), timeout=2)
            checks["database"] = "ok" if self._migrated else "not migrated"
        except Exception as exc:
            checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["dataos_directory"] = "ok" if self.directory.loaded else "not loaded yet"
        checks["slack_token"] = (f"refused: {self.slack_stopped}" if self.slack_stopped is not None
                                 else "ok" if self._slack_answered else NOT_CHECKED)
        return checks

    async def hash_key(self) -> bytes:
        """The key of the keyed hash: kept by an install's first start (`first_key`), then read back whatever
        DATAOS_APIKEY is, on every replica: rotating the operator key changes no hash."""
        async with self._hash_lock:
            if self._hash_key is None:
                first = first_key(self.settings.dataos_apikey)
                self._hash_key = await self.hash_keys.get_or_create("fingerprint", first, now=self.clock())
            return self._hash_key

    async def bot_user_id(self) -> str | None:
        """The bot's own Slack user (auth.test, asked once)."""
        await self._auth_test()
        return self._bot_user_id

    async def workspace(self) -> Workspace | None:
        """The workspace (and Enterprise Grid organisation) the bot is installed in (auth.test, asked once);
        None while Slack cannot say."""
        await self._auth_test()
        return self._workspace

    async def _auth_test(self) -> None:
        if self._workspace is not None:
            return
        try:
            answer = await self.slack.auth_test()
        except Exception as exc:
            log.warning("auth.test failed: %s", failure(exc))
            return
        self._remember_auth(answer)

    def _remember_auth(self, answer: Any) -> None:
        self._slack_answered = True
        self._bot_user_id = self._bot_user_id or str(answer.get("user_id") or "") or None
        team = str(answer.get("team_id") or "")
        if team and self._workspace is None:
            # `is_enterprise_install`: installed for a whole Enterprise Grid organisation (one token, many workspaces)
            self._workspace = Workspace(team, str(answer.get("enterprise_id") or "") or None,
                                        org=answer.get("is_enterprise_install") is True)

    async def dm(self, slack_user_id: str, text: str) -> bool:
        """A short DM from the bot (a sentence in mrkdwn); True if Slack took it."""
        try:
            await self.slack.chat_postMessage(channel=slack_user_id, text=text, unfurl_links=False)
        except Exception as exc:
            log.warning("could not send a DM to %s: %s", slack_user_id, failure(exc))
            return False
        return True

    async def aclose(self) -> None:
        await self.stop_scheduler()
        await self.leak_gate.aclose()
        await self.keys.trail.flush()
        for task in (self._warmup, self._slack_check):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.outcomes.pending and not await self.outcomes.flush(self.ledger):
            log.error("%d reminder outcome(s) could not be recorded before exit; their claims stay open, so those "
                      "DMs are not sent again until the claims' lease runs out", len(self.outcomes.pending))
        await self.directory.aclose()
        await self.dataos.aclose()
        if self.vault is not None:
            await self.vault.aclose()
        await self.engine.dispose()
        session = getattr(self.slack, "session", None)
        if session is not None:
            await session.close()
