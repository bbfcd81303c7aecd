"""Where the Switchboard process itself may connect for a remote MCP server.

A remote's URL is chosen by whoever publishes its manifest, yet the connection leaves from the
Switchboard process, which reaches what sandboxes never do: its database, the cloud's metadata
service, the company's internal hosts (SSRF). So the URL must be https, and every address its
host resolves to must be public (or private, for a host the operator names in
`SWITCHBOARD_EGRESS_PRIVATE_ALLOW`); the check runs again for every new connection, which then
goes to a checked address only, so a second DNS answer cannot redirect it (DNS rebinding).
Loopback, over plain http too, only with `SWITCHBOARD_REMOTE_ALLOW_LOOPBACK` (development, tests).
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

import anyio
import httpcore2
import httpx2

from sandboxes.egress.policy import (
    AllowEntry,
    IPAddress,
    address_refusal,
    normalise_host,
    private_permitted,
)
from sandboxes.errors import SandboxError

_DEFAULT_PORTS = {"https": 443, "http": 80}


class RemoteRefusedError(SandboxError):
    """A remote's URL or address is one Switchboard does not connect to."""


def _literal(host: str) -> IPAddress | None:
    try:
        return ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class RemoteEgress:
    allow_loopback: bool = False
    """`http://localhost`, `127.0.0.1` and `[::1]` URLs; for development and tests only."""
    private_allow: tuple[AllowEntry, ...] = ()
    """Host names the operator lets resolve to private addresses (company servers)."""

    def check_url(self, url: str) -> tuple[str, int]:
        """What the URL alone shows, before any network access; returns its host and port."""
        try:
            parts = urlsplit(url)
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
        except ValueError:
            raise RemoteRefusedError(
                f"the remote URL {url!r} has an invalid host or port"
            ) from None
        host = normalise_host(parts.hostname or "")
        if parts.scheme not in _DEFAULT_PORTS or not host:
            raise RemoteRefusedError(f"the remote URL {url!r} must be an absolute https URL")
        if "@" in parts.netloc:
            raise RemoteRefusedError(
                f"the remote URL {url!r} must not contain a user name or password; send "
                "credentials in a secret header instead"
            )
        if parts.scheme == "http" and not self._loopback_ok(host):
            raise RemoteRefusedError(
                f"the remote URL {url!r} must use https; plain http is accepted only for "
                "loopback hosts, and only with SWITCHBOARD_REMOTE_ALLOW_LOOPBACK"
            )
        literal = _literal(host)
        if literal is not None:
            self._check(host, port, literal)
        return host, port

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` resolves to, each checked: one refused answer refuses the name."""
        literal = _literal(host)
        if literal is not None:
            self._check(host, port, literal)
            return [literal]
        try:
            answers = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            raise RemoteRefusedError(
                f"the remote host {host} could not be resolved; check the manifest's URL"
            ) from None
        addresses = list(dict.fromkeys(ip_address(answer[4][0]) for answer in answers))
        for address in addresses:
            self._check(host, port, address)
        return addresses

    def refusal(self, host: str, port: int, address: IPAddress) -> str | None:
        """Why `host:port` must not be reached at `address`, or None when it may."""
        if address.is_loopback and self._loopback_ok(host):
            return None
        private_ok = private_permitted(host, port, self.private_allow)
        return address_refusal(address, private_ok=private_ok)

    def _check(self, host: str, port: int, address: IPAddress) -> None:
        reason = self.refusal(host, port, address)
        if reason is not None:
            raise RemoteRefusedError(
                f"the remote host {host} resolves to {address}, {reason}; Switchboard connects "
                "only to public addresses (an operator may allow a company host's private "
                "address with SWITCHBOARD_EGRESS_PRIVATE_ALLOW)"
            )

    def _loopback_ok(self, host: str) -> bool:
        literal = _literal(host)
        return self.allow_loopback and (
            host == "localhost" or bool(literal and literal.is_loopback)
        )


class _CheckedBackend(httpcore2.AsyncNetworkBackend):
    """Opens each TCP connection to an address checked just before, never a fresh DNS answer.

    TLS still uses the URL's host name for SNI and the certificate check.
    """

    def __init__(self, egress: RemoteEgress) -> None:
        self._egress = egress
        self._backend = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self._egress.addresses(host, port)
        except RemoteRefusedError as exc:
            raise httpcore2.ConnectError(str(exc)) from exc
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(f"resolving {host} took too long") from exc
        failure = httpcore2.ConnectError(f"{host} has no address to connect to")
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore2.ConnectError as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's signature)
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("remote MCP servers are reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class CheckedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport, over a connection pool that connects only through the checks.

    httpx2 offers no way to pass a network backend, so the pool it built is replaced.
    """

    def __init__(self, egress: RemoteEgress, tls: ssl.SSLContext) -> None:
        super().__init__(verify=tls, trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=tls,
            max_connections=32,
            keepalive_expiry=5.0,
            network_backend=_CheckedBackend(egress),
        )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx2's default trust (honouring `SSL_CERT_FILE`); built once, since it reads files."""
    return httpx2.create_ssl_context()


async def tls_context() -> ssl.SSLContext:
    return await anyio.to_thread.run_sync(_tls_context)
