"""The `Host` names the service answers to: a DNS-rebinding page never sends one of these."""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(public_url: str) -> list[str]:
    """The public URL's host plus loopback names."""
    host = urlsplit(public_url).hostname or "127.0.0.1"
    return sorted({host, *LOOPBACK_NAMES, "::1"})
