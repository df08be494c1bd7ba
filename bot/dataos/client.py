"""Async Heimdall client: one pooled `httpx.AsyncClient`, typed results, typed errors, safe retries.

Redirects are never followed (they would carry the operator key somewhere else), and proxies come from
HTTPS_PROXY / HTTP_PROXY / NO_PROXY read once, when the client is made. The client sends through
httpx-aiohttp's transport, over the aiohttp the Slack SDK already uses: httpx's own connection pool
(httpcore) re-checks every pooled connection on every request, which made a discovery of 2,000 people
take 19 s of CPU instead of 4 (see the README's Performance section).

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
from urllib.parse import quote, urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from pydantic import SecretStr, TypeAdapter, ValidationError

from bot.dataos.errors import DataOSError, DataOSNotFound, DataOSUnavailable, error_for_status
from bot.dataos.models import AuthorizeResult, CreateTokenRequest, Token, User
from bot.domain.durations import go_duration

log = logging.getLogger(__name__)
T = TypeVar("T")

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_USERS = TypeAdapter(list[User])
_TOKENS = TypeAdapter(list[Token])
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
    ) -> None:
        key = apikey.get_secret_value() if isinstance(apikey, SecretStr) else apikey
        self._base = base_url.rstrip("/") + "/api/v1"
        self._headers = {"apikey": key, "accept": "application/json", "user-agent": "dataos-apikey-bot"}
        self._timeout = timeout
        self._max_connections = max_connections
        self._proxy = _env_proxy(self._base)
        self._client: httpx.AsyncClient | None = None
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep
        self._observer = observer

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
                trust_env=False,  # the proxy was read from the environment once (_env_proxy); no .netrc
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

    async def list_users(self, limit: int = 100_000) -> list[User]:
        """Every user, in one page of at most `limit` (DataOS's SDKs send 1,000 unless told otherwise, and
        a server given no limit may apply its own: the bot always sends one)."""
        return self._parse(_USERS.validate_python, await self._call("GET", f"/users?limit={int(limit)}"))

    async def get_user(self, user_id: str) -> User:
        return self._parse(User.model_validate, await self._call("GET", f"/users/{_seg(user_id)}"))

    async def list_tokens(self, user_id: str) -> list[Token]:
        data = await self._call("GET", f"/users/{_seg(user_id)}/tokens")
        tokens = self._parse(_TOKENS.validate_python, data)
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

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, _MAX_RETRY_AFTER)
        return float(self._backoff * (2 ** (attempt - 1)))

    async def _once(self, method: str, path: str, json: dict[str, Any] | None, correlation_id: str) -> Any:
        started = time.perf_counter()
        try:
            response = await self._http().request(
                method, self._base + path, json=json, headers={"dataos-correlation-id": correlation_id})
            status = response.status_code
            headers = response.headers
            body = response.content
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


def _env_proxy(url: str) -> str | None:
    """HTTPS_PROXY / HTTP_PROXY, unless NO_PROXY exempts DataOS's host: as the Slack SDK does."""
    target = urlsplit(url)
    if not target.hostname or proxy_bypass(target.hostname):
        return None
    return getproxies().get(target.scheme)


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
