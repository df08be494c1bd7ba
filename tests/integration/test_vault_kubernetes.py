"""Kubernetes auth against a real OpenBao: the bot logs in at `auth/kubernetes/login` with the pod's
service-account token (read from its file), and OpenBao checks it with the Kubernetes TokenReview API, which
a small stand-in serves here (no cluster runs in the tests)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.playground._server import ServerThread
from bot.vault import VaultAuth, VaultAuthFailed
from bot.vault.client import VaultClient
from tests.bao import Bao

#: A throw-away CA certificate: OpenBao insists on one, and never uses it for an http:// API server.
CA = """-----BEGIN CERTIFICATE-----
MIIDDTCCAfWgAwIBAgIUHqd+rsik9zMjyAKVCzPP4OgTn6YwDQYJKoZIhvcNAQEL
BQAwFjEUMBIGA1UEAwwLdGVzdC1rOHMtY2EwHhcNMjYxMjA3MDMwMDM4WhcNMzYx
MjA0MDMwMDM4WjAWMRQwEgYDVQQDDAt0ZXN0LWs4cy1jYTCCASIwDQYJKoZIhvcN
AQEBBQADggEPADCCAQoCggEBALb7EbwSCNLYmQE6C1JOOg+eqE0f6S/YQbgom6Y1
cR9dBUiQu0baMViHwbny4KNFHlGdnRhh3/b/vjRFqDq3SZTIjACEwJHZr5/LQZX0
YRafM4jvwevsmo3RvANxGwU6iUyhU0AF7cElbAV2W+WXz4kS8nC71gUAVlMYEM+7
vezZMMNmBU1b41J1+RGcDxsu8B2wlPB5pg2bf+mYbQOuVt7EfQdZ2+f+zSmMHnvY
XotjdZisdTa99aoz+6uNK/BYrWn83QmSPHSvFg4DYYAcQhpghNyBSahIS8DRUD4H
Vy2CTQeXvNI+zQSXPtoKVTwk324P2gPd5SCytLj33mGdNBMCAwEAAaNTMFEwHQYD
VR0OBBYEFOYuOL6kKSfI16hoWWOQQwYB7BKzMB8GA1UdIwQYMBaAFOYuOL6kKSfI
16hoWWOQQwYB7BKzMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEB
ACcFPWvk4ggKYfPK1z8hyRg77v1YHkGPqjOjmaQ1V1cFDHMK53Aw6TFaNrHrzswb
XRBQuEtUn6Bgj17oVKNEj/WADKknAAGBiQilb28ZL8E90fy8yLmNkO6OhlQ6MUII
ZVx2U6xStVYZRb1sufURqtHCdKUll84dBH2aMGhpeDzPLoL7kezPczJndq0ajehe
7ROItf9bj92uNwOKeyC5oUz0AusWXG8wgbb5ETfzoaOYsXfLB7xoztChNbAsxDuE
vYDnyY/IgSHZszyMmAxAg/lAapQIZQS5hdnRB+POBREQH9vNazESOIkbN9GWNJan
2qroJKgrUGnS29J9U1zbLgk=
-----END CERTIFICATE-----
"""
USER = "system:serviceaccount:bots:apikey-bot"


def _b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def service_account_token() -> str:
    claims = {"iss": "kubernetes/serviceaccount", "sub": USER,
              "kubernetes.io/serviceaccount/namespace": "bots",
              "kubernetes.io/serviceaccount/service-account.name": "apikey-bot",
              "kubernetes.io/serviceaccount/service-account.uid": "uid-1"}
    return f"{_b64({'alg': 'RS256', 'kid': 'k'})}.{_b64(claims)}.{_b64(b'signature')}"


@pytest.fixture
def kubernetes(bao: Bao) -> Any:
    """The TokenReview API OpenBao asks; it answers for the bot's service account only."""
    reviewed: list[str] = []

    async def review(request: web.Request) -> web.Response:
        token = str((await request.json())["spec"]["token"])
        reviewed.append(token)
        ok = token == service_account_token()
        user = {"username": USER, "uid": "uid-1", "groups": ["system:serviceaccounts"]} if ok else {}
        return web.json_response({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                  "status": {"authenticated": ok, "user": user}})

    def app() -> web.Application:
        application = web.Application()
        application.router.add_post("/apis/authentication.k8s.io/v1/tokenreviews", review)
        return application

    server = ServerThread(app)
    url = server.start()
    mounts = bao.call("GET", "sys/auth")
    if "kubernetes/" not in (mounts.get("data") or mounts):
        bao.call("POST", "sys/auth/kubernetes", {"type": "kubernetes"})
    bao.call("POST", "auth/kubernetes/config", {"kubernetes_host": url, "disable_local_ca_jwt": True,
                                                "kubernetes_ca_cert": CA})
    bao.policy("k8s-bot", 'path "secret/data/pipelines/*" { capabilities = ["read"] }')
    bao.call("POST", "auth/kubernetes/role/apikey-bot", {
        "bound_service_account_names": ["apikey-bot"], "bound_service_account_namespaces": ["bots"],
        "token_policies": ["k8s-bot"], "token_ttl": "10m"})
    yield reviewed
    server.stop()


async def test_the_bot_logs_in_with_its_service_account_token(kubernetes: list[str], bao: Bao,
                                                              tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(service_account_token() + "\n")
    client = VaultClient(bao.addr, VaultAuth("kubernetes", k8s_role="apikey-bot", k8s_token_path=token_file))
    try:
        assert await client.read("secret", "pipelines/none") is None
        assert "k8s-bot" in (await client.lookup_self()).policies
        assert client.logins == 1 and kubernetes == [service_account_token()]
    finally:
        await client.aclose()


async def test_a_refused_or_missing_service_account_token_is_a_sentence(kubernetes: list[str], bao: Bao,
                                                                        tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-a-token")
    client = VaultClient(bao.addr, VaultAuth("kubernetes", k8s_role="apikey-bot", k8s_token_path=wrong))
    try:
        with pytest.raises(VaultAuthFailed, match="refused the bot's login"):
            await client.read("secret", "pipelines/none")
    finally:
        await client.aclose()
    missing = VaultClient(bao.addr, VaultAuth("kubernetes", k8s_role="apikey-bot",
                                              k8s_token_path=tmp_path / "absent"))
    with pytest.raises(VaultAuthFailed, match="service-account token cannot be read"):
        await missing.read("secret", "pipelines/none")
