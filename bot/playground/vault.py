"""A small stand-in for Vault's KV version 2 API (OpenBao serves it the same way), for the playground.

It answers the calls the bot makes as Vault does (held to the same contract tests as a real `bao server
-dev`, tests/integration/test_vault_contract.py): versions with check-and-set, reading a version back,
metadata, `sys/capabilities-self`, token lookup and renewal, `sys/health`, and 403 "permission denied"
for a token that may not touch a path. Everything is in memory. `versions()` shows what is stored, masked,
for the playground's Controls.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.domain.keys import mask_secret

CAPABILITIES = ("create", "read", "update")


@dataclass
class _Secret:
    versions: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (data, created_time), oldest first


def _json(data: Any, status: int = 200) -> web.Response:
    # Exactly `application/json`, as Vault sends it (clients such as hvac compare the header whole).
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


class KVStandIn:
    def __init__(self, *, mounts: tuple[str, ...] = ("secret",), clock: Any = None) -> None:
        self.mounts = set(mounts)
        self.root_token = "pg-vault-" + secrets.token_hex(12)
        #: token -> path prefixes (API paths such as `secret/data/pipelines/`) it may use; None: all (root).
        self.tokens: dict[str, tuple[str, ...] | None] = {self.root_token: None}
        self._store: dict[tuple[str, str], _Secret] = {}
        self._clock = clock or (lambda: datetime.now(UTC))
        self.url = ""

    # ---- for the playground and tests ------------------------------------------------------------

    def add_token(self, prefixes: tuple[str, ...]) -> str:
        token = "pg-vault-" + secrets.token_hex(12)
        self.tokens[token] = prefixes
        return token

    def versions(self, mount: str, path: str) -> list[dict[str, Any]]:
        """Every version of a secret, oldest first, each value masked (what Controls show)."""
        secret = self._store.get((mount, path))
        if secret is None:
            return []
        return [{"version": n, "created_time": created,
                 "data": {k: (mask_secret(str(v)) if k not in ("key_name", "expires_at", "rotated_by") else str(v))
                          for k, v in data.items()}}
                for n, (data, created) in enumerate(secret.versions, start=1)]

    # ---- the API ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_get("/v1/sys/health", self._health)
        app.router.add_get("/v1/auth/token/lookup-self", self._lookup)
        app.router.add_post("/v1/auth/token/renew-self", self._renew)
        app.router.add_post("/v1/sys/capabilities-self", self._capabilities)
        app.router.add_route("GET", "/v1/{mount}/{kind:data|metadata}/{path:.+}", self._get)
        app.router.add_route("POST", "/v1/{mount}/data/{path:.+}", self._write)
        app.router.add_route("PUT", "/v1/{mount}/data/{path:.+}", self._write)
        return app

    def _allowed(self, request: web.Request, api_path: str) -> bool:
        token = request.headers.get("X-Vault-Token", "")
        if token not in self.tokens:
            return False
        prefixes = self.tokens[token]
        return prefixes is None or any(api_path.startswith(p) for p in prefixes)

    @staticmethod
    def _error(status: int, *errors: str) -> web.Response:
        return _json({"errors": list(errors)}, status=status)

    async def _health(self, request: web.Request) -> web.Response:
        return _json({"initialized": True, "sealed": False, "standby": False,
                                  "version": "playground KV stand-in"})

    async def _lookup(self, request: web.Request) -> web.Response:
        token = request.headers.get("X-Vault-Token", "")
        if token not in self.tokens:
            return self._error(403, "permission denied")
        root = self.tokens[token] is None
        return _json({"data": {"ttl": 0, "renewable": False, "creation_ttl": 0,
                                           "policies": ["root"] if root else ["default", "rotation"],
                                           "accessor": token[-8:], "last_renewal_time": None}})

    async def _renew(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Vault-Token", "") not in self.tokens:
            return self._error(403, "permission denied")
        return self._error(400, "lease is not renewable")

    async def _capabilities(self, request: web.Request) -> web.Response:
        token = request.headers.get("X-Vault-Token", "")
        if token not in self.tokens:
            return self._error(403, "permission denied")
        body = await request.json()
        paths = [str(p) for p in body.get("paths") or []]
        prefixes = self.tokens[token]
        answer: dict[str, Any] = {}
        for path in paths:
            if prefixes is None:
                answer[path] = ["root"]
            else:
                answer[path] = list(CAPABILITIES) if any(path.startswith(p) for p in prefixes) else ["deny"]
        if len(paths) == 1:
            answer["capabilities"] = answer[paths[0]]
        return _json({**answer, "data": dict(answer)})

    def _route(self, request: web.Request, kind: str) -> tuple[str, str, str] | web.Response:
        mount, path = request.match_info["mount"], request.match_info["path"]
        api_path = f"{mount}/{kind}/{path}"
        if not self._allowed(request, api_path):
            return self._error(403, "permission denied")
        if mount not in self.mounts:
            return self._error(404, f'no handler for route "{api_path}". route entry not found.')
        return mount, path, api_path

    async def _get(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        route = self._route(request, kind)
        if isinstance(route, web.Response):
            return route
        mount, path, _ = route
        secret = self._store.get((mount, path))
        if secret is None or not secret.versions:
            return self._error(404)
        current = len(secret.versions)
        if kind == "metadata":
            return _json({"data": {
                "current_version": current, "oldest_version": 1, "max_versions": 0, "cas_required": False,
                "custom_metadata": None,
                "versions": {str(n): {"created_time": created, "deletion_time": "", "destroyed": False}
                             for n, (_, created) in enumerate(secret.versions, start=1)}}})
        wanted = request.query.get("version", "")
        number = int(wanted) if wanted.isdigit() and int(wanted) > 0 else current
        if number > current:
            return self._error(404)
        data, created = secret.versions[number - 1]
        return _json({"data": {"data": data, "metadata": {
            "version": number, "created_time": created, "deletion_time": "", "destroyed": False,
            "custom_metadata": None}}})

    async def _write(self, request: web.Request) -> web.Response:
        route = self._route(request, "data")
        if isinstance(route, web.Response):
            return route
        mount, path, _ = route
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "failed to parse JSON input")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return self._error(400, "no data provided")
        secret = self._store.setdefault((mount, path), _Secret())
        cas = (body.get("options") or {}).get("cas")
        if cas is not None and int(cas) != len(secret.versions):
            return self._error(400, "check-and-set parameter did not match the current version")
        created = self._clock().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        secret.versions.append((dict(data), created))
        return _json({"data": {"version": len(secret.versions), "created_time": created,
                                           "deletion_time": "", "destroyed": False, "custom_metadata": None}})
