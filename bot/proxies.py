"""Which proxy, if any, a call to a URL goes through: one rule for every client the bot makes.

HTTPS_PROXY / HTTP_PROXY (either case) name the proxy; NO_PROXY exempts hosts (`*`, `example.com`,
`.example.com`, `host:port`, as curl and Python read it). Loopback (127.0.0.0/8, ::1, `localhost`) is
never proxied, whatever the environment says: a sidecar, the playground's own servers and the tests
live there, and a company proxy would be handed the bot token and the operator key on the way.

The Slack SDK reads HTTPS_PROXY itself but ignores NO_PROXY, and every client it makes on the way
(Bolt makes one per request, and one per `respond`) reads it again. So the rule is applied where every
Slack call passes: the bot's pooled aiohttp session (`session_middleware`), whatever proxy the SDK
asked for; clients that run without that session are given `proxy_for`'s answer (`use_proxy_rule`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies_environment

from aiohttp import BasicAuth, ClientHandlerType, ClientRequest, ClientResponse
from yarl import URL

#: The proxy a scheme goes through, in the environment's names (wss:// goes where https:// goes).
_SCHEME = {"https": "https", "wss": "https", "http": "http", "ws": "http"}


def is_loopback(host: str) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy URL for a call to `url`, or None to connect directly."""
    target = urlsplit(url)
    host = target.hostname
    if not host or is_loopback(host):
        return None
    proxies = _proxies(environ)
    kind = _SCHEME.get(target.scheme.lower())
    if kind is None or kind not in proxies:
        return None
    if exempt(host, target.port, proxies.get("no", "")):
        return None
    return proxies[kind] or None


def exempt(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether NO_PROXY names `host` (itself, a domain it is in, `host:port`, or `*`)."""
    host = host.lower().rstrip(".")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, only_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if only_port and (not only_port.isdigit() or port != int(only_port)):
            continue
        name = name.lstrip(".").rstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def _proxies(environ: Mapping[str, str] | None) -> dict[str, str]:
    if environ is None:
        return getproxies_environment()
    found: dict[str, str] = {}
    # Upper case first, lower case wins: as urllib reads the process environment.
    for name in sorted(environ, key=lambda n: n.islower()):
        value = environ[name]
        if value and name.lower().endswith("_proxy"):
            found[name.lower()[:-6]] = value
    return found


def use_proxy_rule(client: Any, url: str) -> Any:
    """Give a Slack SDK client (web or Socket Mode) the proxy `proxy_for` chose for `url`, replacing the
    one the SDK read from the environment without looking at NO_PROXY."""
    client.proxy = proxy_for(url)
    return client


async def session_middleware(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
    """An aiohttp client middleware: the proxy of every request is `proxy_for`'s, not the caller's."""
    chosen = proxy_for(str(request.url))
    if chosen is None:
        request.update_proxy(None, None, None)
    else:
        url = URL(chosen)
        request.update_proxy(url.with_user(None), BasicAuth.from_url(url), request.proxy_headers)
    return await handler(request)
