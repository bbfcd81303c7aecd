"""Where a run reaches Switchboard's own `/mcp`: the server it runs in, on loopback, so that a
run's tool calls take the same path as every other client's."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from switchboard.settings import Settings


def default_mcp_url(settings: Settings) -> str:
    """The public URL when it names this machine; else the address the server binds."""
    public = urlsplit(settings.effective_public_url)
    if public.hostname is not None and _is_loopback(public.hostname):
        return settings.mcp_url
    return loopback_mcp_url(settings.host, settings.port)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def loopback_mcp_url(host: str, port: int) -> str:
    if host in ("", "0.0.0.0", "::", "localhost"):  # noqa: S104 (a bind address, not bound)
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/mcp" if ":" in host else f"http://{host}:{port}/mcp"
