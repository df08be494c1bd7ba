"""The Vault (OpenBao) client: KV version 2 with check-and-set, token, AppRole and Kubernetes login, the
token kept alive, `sys/capabilities-self`.

It is `hvac`, the ecosystem's Vault client, run in a thread (`asyncio.to_thread`): hvac is synchronous,
over requests. A rotation makes a handful of calls, so a thread per call costs nothing that matters, and
a well-kept library beats a hand-written one for the auth methods and the API's corners.

Secrets: the token and every value read or written are `SecretStr` on this side; an answer is never
logged or put in an exception (hvac's exceptions carry the body: only the status and Vault's own error
words, capped, are kept). Redirects are not followed (they would carry the token elsewhere), and the
proxy comes from the bot's one rule (`bot.proxies`), never from requests' own reading of the environment.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import hvac
import hvac.exceptions as hvac_errors
import requests
from pydantic import SecretStr

from bot.proxies import proxy_for
from bot.vault.errors import (
    VaultAuthFailed,
    VaultBadRequest,
    VaultCasConflict,
    VaultError,
    VaultForbidden,
    VaultNotFound,
    VaultUnavailable,
)
from bot.vault.types import SecretVersion, TokenInfo, VaultAuth

log = logging.getLogger(__name__)
T = TypeVar("T")

_STATUS = {hvac_errors.InvalidRequest: 400, hvac_errors.Unauthorized: 401, hvac_errors.Forbidden: 403,
           hvac_errors.InvalidPath: 404, hvac_errors.RateLimitExceeded: 429, hvac_errors.InternalServerError: 500,
           hvac_errors.VaultNotInitialized: 501, hvac_errors.BadGateway: 502, hvac_errors.VaultDown: 503}


class VaultClient:
    def __init__(self, addr: str, auth: VaultAuth, *, namespace: str | None = None, cacert: str | None = None,
                 timeout: float = 10.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.addr = addr.rstrip("/")
        self.auth = auth
        self.namespace = namespace or None
        self._cacert = cacert
        self._timeout = timeout
        self._monotonic = monotonic
        self._token: SecretStr | None = auth.token if auth.method == "token" else None
        self._client: Any = None
        self._login_lock = asyncio.Lock()
        #: How many logins this client made (AppRole or Kubernetes), and calls it sent: for doctor and the bench.
        self.logins = 0
        self.calls = 0

    # ---- plumbing --------------------------------------------------------------------------------

    def _hvac(self) -> Any:
        if self._client is None:
            session = requests.Session()
            session.trust_env = False  # the proxy rule is the bot's (loopback never proxied), not requests'
            proxy = proxy_for(self.addr)
            if proxy:
                session.proxies = {"http": proxy, "https": proxy}
            self._client = hvac.Client(url=self.addr, verify=self._cacert or True, timeout=self._timeout,
                                       namespace=self.namespace, session=session, allow_redirects=False)
        self._client.token = self._token.get_secret_value() if self._token is not None else None
        return self._client

    async def _run(self, what: str, path: str, call: Callable[[Any], T], *, write: bool = False) -> T:
        """One call in a thread; logged by path and outcome only. A login-based token that Vault refuses
        (403: an expired token looks like a missing permission) is renewed by logging in again, once."""
        if self._token is None:
            await self.login()
        try:
            return await self._once(what, path, call, write)
        except VaultForbidden:
            if self.auth.method == "token":
                raise
            await self.login()
            return await self._once(what, path, call, write)

    async def _once(self, what: str, path: str, call: Callable[[Any], T], write: bool) -> T:
        client = self._hvac()
        self.calls += 1
        started = time.perf_counter()
        try:
            result = await asyncio.to_thread(call, client)
        except Exception as exc:
            error = _translate(exc, what, path, write)
            log.log(logging.DEBUG if isinstance(error, VaultNotFound) else logging.WARNING,
                    "vault %s %s -> %s (%s) in %.0f ms", what, path, error.status or type(error).__name__,
                    error.cause or "", (time.perf_counter() - started) * 1000)
            raise error from None
        log.debug("vault %s %s -> ok in %.0f ms", what, path, (time.perf_counter() - started) * 1000)
        return result

    async def aclose(self) -> None:
        if self._client is not None:
            await asyncio.to_thread(self._client.adapter.close)
            self._client = None

    # ---- auth ------------------------------------------------------------------------------------

    async def login(self) -> None:
        """Get a token: the given one, or a fresh login with AppRole or Kubernetes."""
        if self.auth.method == "token":
            if self.auth.token is None or not self.auth.token.get_secret_value():
                raise VaultAuthFailed("No Vault token is configured (VAULT_TOKEN).")
            self._token = self.auth.token
            return
        async with self._login_lock:
            self._token = None
            token = await self._once("login", self._login_path(), self._login_call(), False)
            self._token = token
            self.logins += 1
            log.info("vault: logged in with %s", self.auth.method)

    def _login_path(self) -> str:
        mount = self.auth.approle_mount if self.auth.method == "approle" else self.auth.k8s_mount
        return f"auth/{mount}/login"

    def _login_call(self) -> Callable[[Any], SecretStr]:
        auth = self.auth
        if auth.method == "approle":
            if not auth.role_id or auth.secret_id is None:
                raise VaultAuthFailed("AppRole needs VAULT_ROLE_ID and VAULT_SECRET_ID.")
            role_id, secret_id = auth.role_id, auth.secret_id

            def approle(client: Any) -> SecretStr:
                answer = client.auth.approle.login(role_id=role_id, secret_id=secret_id.get_secret_value(),
                                                   mount_point=auth.approle_mount, use_token=False)
                return _login_token(answer)

            return approle
        try:
            jwt = SecretStr(auth.k8s_token_path.read_text().strip())
        except OSError as exc:
            raise VaultAuthFailed(f"The Kubernetes service-account token cannot be read at {auth.k8s_token_path} "
                                  f"({type(exc).__name__}); is the pod's token mounted?") from None
        if not auth.k8s_role:
            raise VaultAuthFailed("Kubernetes auth needs VAULT_K8S_ROLE.")
        role = auth.k8s_role

        def kubernetes(client: Any) -> SecretStr:
            answer = client.auth.kubernetes.login(role=role, jwt=jwt.get_secret_value(),
                                                  mount_point=auth.k8s_mount, use_token=False)
            return _login_token(answer)

        return kubernetes

    async def lookup_self(self) -> TokenInfo:
        answer = await self._run("lookup-self", "auth/token/lookup-self", lambda c: c.auth.token.lookup_self())
        data = answer.get("data") or {}  # (its `id` is the token itself: only the fields below are kept)
        return TokenInfo(ttl=int(data.get("ttl") or 0), renewable=bool(data.get("renewable")),
                         creation_ttl=int(data.get("creation_ttl") or 0),
                         policies=tuple(str(p) for p in data.get("policies") or ()),
                         accessor=str(data["accessor"]) if data.get("accessor") else None,
                         last_renewal_time=int(data["last_renewal_time"]) if data.get("last_renewal_time") else None)

    async def renew_self(self) -> None:
        await self._run("renew-self", "auth/token/renew-self", lambda c: c.auth.token.renew_self())

    async def keep_alive(self, *, renew_within: float | None = None) -> str:
        """Keep the token usable: renew it while it is renewable and past half its life (or within
        `renew_within` seconds of its end), log in again when it is not renewable and near its end.
        Returns what was done ("renewed", "logged in", "nothing"), for logs and tests."""
        info = await self.lookup_self()
        if info.ttl == 0:
            return "nothing"  # a token that never expires
        threshold = renew_within if renew_within is not None else max(60.0, info.creation_ttl / 2)
        if info.ttl > threshold:
            return "nothing"
        if info.renewable:
            try:
                await self.renew_self()
                return "renewed"
            except VaultError as exc:
                if self.auth.method == "token":
                    raise
                log.info("vault: the token could not be renewed (%s); logging in again", type(exc).__name__)
        elif self.auth.method == "token":
            log.warning("vault: the configured token expires in %d s and cannot be renewed; give the bot a new "
                        "VAULT_TOKEN, or use AppRole or Kubernetes auth", info.ttl)
            return "nothing"
        await self.login()
        return "logged in"

    # ---- KV version 2 ----------------------------------------------------------------------------

    async def read(self, mount: str, path: str, version: int | None = None) -> SecretVersion | None:
        """One version (the newest when `version` is None); None when the secret has no such version."""
        api = f"{mount}/data/{path}"

        def call(client: Any) -> Any:
            return client.secrets.kv.v2.read_secret_version(path=path, version=version, mount_point=mount,
                                                            raise_on_deleted_version=True)

        try:
            answer = await self._run("read", api, call)
        except VaultNotFound:
            return None
        return _version(answer)

    async def current_version(self, mount: str, path: str) -> int:
        """The newest version number (0: the secret does not exist yet)."""
        api = f"{mount}/metadata/{path}"
        try:
            answer = await self._run("metadata", api, lambda c: c.secrets.kv.v2.read_secret_metadata(
                path=path, mount_point=mount))
        except VaultNotFound:
            return 0
        return int((answer.get("data") or {}).get("current_version") or 0)

    async def write(self, mount: str, path: str, data: dict[str, SecretStr], *, cas: int) -> int:
        """A new version, only if the newest is still `cas` (0: only if there is none); its number."""
        api = f"{mount}/data/{path}"

        def call(client: Any) -> Any:
            plain = {name: value.get_secret_value() for name, value in data.items()}
            return client.secrets.kv.v2.create_or_update_secret(path=path, secret=plain, cas=cas,
                                                                mount_point=mount)

        answer = await self._run("write", api, call, write=True)
        return int((answer.get("data") or {}).get("version") or 0)

    async def capabilities(self, paths: list[str]) -> dict[str, tuple[str, ...]]:
        """What the bot's token may do on each API path (`sys/capabilities-self`)."""
        answer = await self._run("capabilities", "sys/capabilities-self",
                                 lambda c: c.sys.get_capabilities(paths=paths))
        data = answer.get("data") if isinstance(answer.get("data"), dict) else answer
        out: dict[str, tuple[str, ...]] = {}
        for path in paths:
            held = data.get(path)
            if held is None and len(paths) == 1:
                held = data.get("capabilities")
            out[path] = tuple(str(c) for c in held or ())
        return out

    async def health(self) -> dict[str, Any]:
        """`sys/health` (unauthenticated): initialized, sealed, version."""

        def call(client: Any) -> Any:
            answer = client.sys.read_health_status(method="GET")
            return answer if isinstance(answer, dict) else answer.json()

        answer = await self._once("health", "sys/health", call, False)
        return {k: answer.get(k) for k in ("initialized", "sealed", "standby", "version")}


def _login_token(answer: Any) -> SecretStr:
    token = ((answer or {}).get("auth") or {}).get("client_token")
    if not token:
        raise VaultAuthFailed("Vault accepted the login but sent no token.")
    return SecretStr(str(token))


def _version(answer: Any) -> SecretVersion | None:
    body = (answer or {}).get("data") or {}
    meta = body.get("metadata") or {}
    raw = body.get("data")
    if raw is None:
        return None
    data = {str(k): SecretStr(v if isinstance(v, str) else str(v)) for k, v in dict(raw).items()}
    return SecretVersion(int(meta.get("version") or 0), data, str(meta.get("created_time") or "") or None,
                         bool(meta.get("destroyed")))


def _words(exc: hvac_errors.VaultError) -> str:
    """Vault's own error words (its `errors` list), capped; never the body."""
    errors = exc.errors if isinstance(exc.errors, list) else []
    text = "; ".join(" ".join(str(e).split()) for e in errors)
    return text[:200]


def _translate(exc: Exception, what: str, path: str, write: bool) -> VaultError:
    if isinstance(exc, VaultError):
        return exc
    if isinstance(exc, hvac_errors.VaultError):
        status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), None)
        words = _words(exc)
        if what == "login" and status is not None and 400 <= status < 500:
            return VaultAuthFailed(f"Vault refused the bot's login at `{path}` ({words or status}).", status=status,
                                   path=path, cause=words)
        if status == 400 and "check-and-set" in words:
            return VaultCasConflict(f"Someone else wrote `{path}` after the bot read it; nothing was overwritten.",
                                    status=400, path=path, cause=words)
        if status == 403:
            return VaultForbidden(f"Vault refused the bot's token on `{path}` (permission denied).", status=403,
                                  path=path, cause=words)
        if status == 404:
            return VaultNotFound(f"Vault has nothing at `{path}`.", status=404, path=path, cause=words)
        if status == 400:
            return VaultBadRequest(f"Vault refused the {what} on `{path}` as a bad request ({words or 'no reason'}).",
                                   status=400, path=path, cause=words)
        if status == 401 or what == "login":
            return VaultAuthFailed(f"Vault refused the bot's {'login' if what == 'login' else 'token'} "
                                   f"({words or status}).", status=status, path=path, cause=words)
        return VaultUnavailable(f"Vault answered {status or 'an error'} to the {what} on `{path}`; it may be sealed "
                                "or overloaded.", status=status, path=path, changed=None if write else False,
                                cause=words)
    if isinstance(exc, requests.exceptions.RequestException):
        never_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or (
            isinstance(exc, requests.exceptions.ConnectionError) and "NewConnectionError" in repr(exc.args[:1]))
        kind = "did not answer in time" if isinstance(exc, requests.exceptions.Timeout) else "could not be reached"
        return VaultUnavailable(f"Vault {kind} for the {what} on `{path}`.", path=path,
                                changed=False if never_sent or not write else None, cause=type(exc).__name__)
    return VaultUnavailable(f"The {what} on `{path}` failed ({type(exc).__name__}).", path=path,
                            changed=None if write else False, cause=type(exc).__name__)
