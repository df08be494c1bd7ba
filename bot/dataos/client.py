"""Async Heimdall client: one pooled `httpx.AsyncClient`, typed results, typed errors, safe retries.

Redirects are never followed (they would carry the operator key somewhere else), and proxies come from
HTTPS_PROXY / HTTP_PROXY / NO_PROXY read once, when the client is made (`bot.proxies`; loopback is
never proxied). The client sends through httpx-aiohttp's transport, over the aiohttp the Slack SDK
already uses: httpx's own connection pool (httpcore) re-checks every pooled connection on every
request, which made a discovery of 2,000 people take 19 s of CPU instead of 4 (see the README's Performance section).

Retries follow the official SDKs (500/502/503/504 and transport errors, with backoff) but only for
idempotent calls (GET, DELETE, and `/authorize`, which changes nothing). A create is never repeated
blindly: when its outcome is unknown it is retried with `use_existing: true`, which returns the key
the first attempt made instead of making a second one. That needs a name, so callers that want safe
retries pass one.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from json import loads as json_loads
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from pydantic import SecretStr, ValidationError

from bot.dataos.errors import DataOSError, DataOSNotFound, DataOSTooLarge, DataOSUnavailable, error_for_status
from bot.dataos.models import AuthorizeResult, CreateTokenRequest, Token, User
from bot.domain.durations import go_duration
from bot.metrics import DATAOS_RECORDS_SKIPPED
from bot.proxies import proxy_for

log = logging.getLogger(__name__)
T = TypeVar("T")
M = TypeVar("M")

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: The largest DataOS answer read, unless the client is told otherwise (DATAOS_MAX_RESPONSE_MB).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: At most this many skipped records are remembered as logged (a refresh must not log them again).
_LOGGED_SKIPS_LIMIT = 10_000


class Records(list[T]):
    """The records of a list answer the bot could use, and how many the answer held (`received`)."""

    received: int = 0
#: Never wait longer than this for a Retry-After from DataOS: the user is waiting.
_MAX_RETRY_AFTER = 5.0

Sleep = Callable[[float], Awaitable[None]]
CallObserver = Callable[[str, str, int | None, float], None]


class _Outcome(Exception):
    """Internal: a response or failure that may be retried."""

    def __init__(self, error: DataOSError, *, sent: bool, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent
        self.retry_after = retry_after


class HeimdallClient:
    def __init__(
        self,
        base_url: str,
        apikey: SecretStr | str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.25,
        sleep: Sleep = asyncio.sleep,
        max_connections: int = 100,
        observer: CallObserver | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        refresh_key: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        key = apikey.get_secret_value() if isinstance(apikey, SecretStr) else apikey
        self._base = base_url.rstrip("/") + "/api/v1"
        self._headers = {"apikey": key, "accept": "application/json", "user-agent": "dataos-apikey-bot"}
        self._timeout = timeout
        self._max_connections = max_connections
        self._proxy = proxy_for(self._base)
        self._client: httpx.AsyncClient | None = None
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep
        self._observer = observer
        self._max_response = max_response_bytes
        self._logged_skips: set[tuple[str, str]] = set()  # skipped records already logged, by kind and id
        #: On a 401, True if a new operator key was found (DATAOS_APIKEY_FROM): the call is made once more.
        self._refresh_key = refresh_key

    def set_apikey(self, apikey: SecretStr) -> None:
        """Use another operator key from the next call on (the bot's own key was rotated)."""
        for headers in (self._headers, *((self._client.headers,) if self._client is not None else ())):
            headers["apikey"] = apikey.get_secret_value()

    def _http(self) -> httpx.AsyncClient:
        # Made on first use: its connection pool belongs to the event loop it was made in.
        if self._client is None:
            limits = httpx.Limits(max_connections=self._max_connections,
                                  max_keepalive_connections=self._max_connections)
            transport = AiohttpTransport(verify=_ssl_context(self._base, self._proxy), limits=limits,
                                         trust_env=False, proxy=httpx.Proxy(self._proxy) if self._proxy else None)
            self._client = httpx.AsyncClient(
                transport=transport,
                headers=self._headers,
                timeout=httpx.Timeout(self._timeout),
                follow_redirects=False,  # a redirect would carry the operator key somewhere else
                trust_env=False,  # the proxy was read from the environment once (bot.proxies); no .netrc
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> HeimdallClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- operations -------------------------------------------------------------------------

    async def authorize(self, token: SecretStr | str) -> AuthorizeResult:
        """Who owns `token`? A bad or expired key gives `user_id is None`, not an error."""
        value = token.get_secret_value() if isinstance(token, SecretStr) else token
        data = await self._call("POST", "/authorize", json={"token": value}, idempotent=True)
        return self._parse(AuthorizeResult.model_validate, data)

    async def list_users(self, limit: int = 100_000) -> Records[User]:
        """Every user, in one page of at most `limit` (DataOS's SDKs send 1,000 unless told otherwise, and
        a server given no limit may apply its own: the bot always sends one). A record the bot cannot use
        is skipped (see `_each`); `received` says how many the answer held."""
        data = await self._call("GET", f"/users?limit={int(limit)}")
        return _each(User.model_validate, "user", data, self._logged_skips)

    async def get_user(self, user_id: str) -> User:
        return self._parse(User.model_validate, await self._call("GET", f"/users/{_seg(user_id)}"))

    async def list_tokens(self, user_id: str) -> list[Token]:
        data = await self._call("GET", f"/users/{_seg(user_id)}/tokens")
        tokens = _each(Token.model_validate, "key", data, self._logged_skips, owner=user_id)
        return [t for t in tokens if t.type == "apikey"]

    async def get_token(self, user_id: str, name: str) -> Token:
        data = await self._call("GET", f"/users/{_seg(user_id)}/tokens/{_seg(name)}")
        return self._parse(Token.model_validate, data)

    async def delete_token(self, user_id: str, name: str) -> None:
        await self._call("DELETE", f"/users/{_seg(user_id)}/tokens/{_seg(name)}")

    async def create_token(
        self,
        user_id: str,
        *,
        name: str | None,
        hours: int,
        description: str | None = None,
    ) -> Token:
        """Create a key. Retried with `use_existing` (named keys only) when the outcome is unknown."""
        path = f"/users/{_seg(user_id)}/tokens"
        request = CreateTokenRequest(name=name, duration=go_duration(hours), description=description)
        attempt = 0
        while True:
            correlation_id = str(uuid.uuid4())
            try:
                data = await self._once("POST", path, request.model_dump(exclude_none=True), correlation_id)
                return self._parse(Token.model_validate, data)
            except _Outcome as outcome:
                attempt += 1
                if outcome.sent and name is None:
                    # Without a name there is no safe way to ask "did it happen?": say so.
                    outcome.error.changed = None
                    raise outcome.error from None
                if attempt > self._retries:
                    outcome.error.changed = None if outcome.sent else False
                    raise outcome.error from None
                # Every retry asks for the existing key: safe whether or not the first attempt landed.
                request = request.model_copy(update={"use_existing": True})
                await self._sleep(self._delay(attempt, outcome.retry_after))

    # ---- plumbing -----------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, json: dict[str, Any] | None = None, idempotent: bool | None = None
    ) -> Any:
        retry = idempotent if idempotent is not None else method in ("GET", "DELETE")
        attempt = 0
        while True:
            correlation_id = str(uuid.uuid4())
            try:
                return await self._once(method, path, json, correlation_id)
            except _Outcome as outcome:
                attempt += 1
                if not retry or attempt > self._retries:
                    if method == "GET" or path == "/authorize":
                        outcome.error.changed = False  # a read changes nothing, however it failed
                    raise outcome.error from None
                await self._sleep(self._delay(attempt, outcome.retry_after))

    async def _read_capped(self, response: httpx.Response, method: str, path: str, correlation_id: str) -> bytes:
        """The body, read in pieces and refused as soon as it passes the cap: a DataOS answer (or
        something answering in its place) must not be able to fill the bot's memory."""
        declared = response.headers.get("content-length", "")
        chunks: list[bytes] = []
        size = int(declared) if declared.isascii() and declared.isdigit() else 0
        if size <= self._max_response:
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_response:
                    break
                chunks.append(chunk)
        if size > self._max_response:
            log.warning("dataos %s %s: the answer is larger than DATAOS_MAX_RESPONSE_MB (%d MB) and was not read",
                        method, _route(path), self._max_response // (1024 * 1024),
                        extra={"correlation_id": correlation_id})
            raise DataOSTooLarge(status=response.status_code, correlation_id=correlation_id,
                                 changed=False if method == "GET" or path == "/authorize" else None)
        return b"".join(chunks)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, _MAX_RETRY_AFTER)
        return float(self._backoff * (2 ** (attempt - 1)))

    async def _once(self, method: str, path: str, json: dict[str, Any] | None, correlation_id: str,
                    refreshed: bool = False) -> Any:
        started = time.perf_counter()
        try:
            async with self._http().stream(
                method, self._base + path, json=json, headers={"dataos-correlation-id": correlation_id}
            ) as response:
                status = response.status_code
                headers = response.headers
                body = await self._read_capped(response, method, path, correlation_id)
        except httpx.TransportError as exc:
            # httpx-aiohttp renames aiohttp's errors (a refused connection becomes "ConnectTimeout"): log the real one
            real = exc.__cause__ if isinstance(exc.__cause__, aiohttp.ClientError) else exc
            self._log(method, path, None, started, correlation_id, type(real).__name__)
            cause = f"{type(real).__name__}: {str(real)[:300]}" if str(real) else type(real).__name__
            if _never_sent(exc):  # no connection was made: the request never left
                raise _Outcome(
                    DataOSUnavailable("Could not connect to DataOS.", correlation_id=correlation_id, cause=cause),
                    sent=False,
                ) from None
            if isinstance(exc, httpx.TimeoutException):
                raise _Outcome(
                    DataOSUnavailable("DataOS did not answer in time.", correlation_id=correlation_id, changed=None,
                                      cause=cause),
                    sent=True,
                ) from None
            # hung up, reset, unreadable: it may have arrived
            raise _Outcome(
                DataOSUnavailable("The connection to DataOS failed.", correlation_id=correlation_id, changed=None,
                                  cause=cause),
                sent=True,
            ) from None
        self._log(method, path, status, started, correlation_id, None)
        if status in (200, 201):
            try:
                return json_loads(body)
            except ValueError:
                raise DataOSError(
                    "DataOS sent an answer the bot could not read.", status=status, correlation_id=correlation_id
                ) from None
        if status == 204:
            return None
        if status in _RETRY_STATUSES:
            raise _Outcome(
                error_for_status(status, correlation_id, changed=None if method == "POST" else False),
                sent=status != 429,
                retry_after=_retry_after(headers),
            )
        if status == 401 and not refreshed and self._refresh_key is not None and await self._refresh_key():
            return await self._once(method, path, json, correlation_id, True)  # the operator key was rotated
        raise error_for_status(status, correlation_id)

    def _log(
        self, method: str, path: str, status: int | None, started: float, correlation_id: str, error: str | None
    ) -> None:
        elapsed = time.perf_counter() - started
        if self._observer is not None:
            self._observer(method, _route(path), status, elapsed)
        level = logging.DEBUG if status is not None and status < 400 else logging.WARNING
        log.log(
            level,
            "dataos %s %s -> %s in %.0f ms",
            method,
            path,
            status if status is not None else error,
            elapsed * 1000,
            extra={"correlation_id": correlation_id},
        )

    @staticmethod
    def _parse(parser: Callable[[Any], T], data: Any) -> T:
        try:
            return parser(data)
        except ValidationError:
            raise DataOSError("DataOS sent an answer the bot could not read.") from None


def _each(validate: Callable[[Any], M], kind: str, data: Any, logged: set[tuple[str, str]], *,
          owner: str | None = None) -> Records[M]:
    """A list answer, record by record: one record the bot cannot use (no id, a name or expiry missing or
    malformed) is skipped, counted and logged once by id, and the others still work. Only an answer that
    is not a list at all is unreadable."""
    if not isinstance(data, list):
        raise DataOSError("DataOS sent an answer the bot could not read.")
    found: Records[M] = Records()
    found.received = len(data)
    for i, record in enumerate(data):
        data[i] = None  # each raw record goes as its model comes: a directory of 100,000 is never held twice
        try:
            found.append(validate(record))
        except ValidationError:
            DATAOS_RECORDS_SKIPPED.labels(kind).inc()
            _log_skip(kind, record, owner, logged)
    return found


def _log_skip(kind: str, record: Any, owner: str | None, logged: set[tuple[str, str]]) -> None:
    field = "id" if kind == "user" else "name"
    ident = record.get(field) if isinstance(record, dict) else None
    label = (f"{owner}/" if owner else "") + (str(ident)[:120] if isinstance(ident, str | int) else "(none)")
    if (kind, label) in logged:
        return
    if len(logged) < _LOGGED_SKIPS_LIMIT:
        logged.add((kind, label))
    log.warning("dataos: skipped a %s record the bot cannot use (%s %s); the others are used", kind, field, label)


def _never_sent(exc: httpx.TransportError) -> bool:
    """Did this failure happen before the request could leave (so nothing can have changed)?

    httpx-aiohttp maps every aiohttp connection error to ConnectTimeout, a server hanging up mid-answer
    included; the aiohttp error it wraps says which it really was.
    """
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientError):
        return isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ProxyError)


def _ssl_context(url: str, proxy: str | None) -> ssl.SSLContext:
    """The system's trust store (as aiohttp and most tools use; it honours SSL_CERT_FILE and a company CA
    installed on the host). Loading it costs tens of ms, so plain-HTTP set-ups (a sidecar, the tests)
    get a context that is never used."""
    if url.startswith("https:") or (proxy or "").startswith("https:"):
        return ssl.create_default_context()
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _seg(value: str) -> str:
    if not value:
        raise DataOSNotFound("An empty user id or key name cannot name anything in DataOS.")
    return quote(value, safe="")


def _route(path: str) -> str:
    """`/users/alice/tokens/x` -> `/users/{id}/tokens/{name}`: bounded labels for metrics."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    shape = [parts[0]] if parts else []
    if len(parts) > 1:
        shape.append("{id}")
    if len(parts) > 2:
        shape.append(parts[2])
    if len(parts) > 3:
        shape.append("{name}")
    return "/" + "/".join(shape)


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
