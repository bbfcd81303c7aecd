"""The egress proxy: an HTTP forward proxy that reaches allowlisted hosts and nothing else.

Runs in its own container between a tool's internal network and the outside, so the tool's only
way out is this process. It resolves each name itself, refuses the request if any address is not
public, then connects to an address it checked (no second lookup, so no DNS rebinding). Names
the operator allows (`--private-allow`) may also resolve to private addresses, never to loopback,
link-local, metadata or the Docker host's addresses.
Standard library only: it runs under the base image's python3.
Usage: python3 -m sandboxes.egress.proxy --listen HOST:PORT --allow pypi.org [--allow ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sandboxes.egress.policy import (
    AddressCheck,
    AllowEntry,
    IPAddress,
    address_refusal,
    normalise_host,
    parse_allowlist,
    private_permitted,
    target_refusal,
)
from sandboxes.egress.wire import (
    HttpError,
    RequestHead,
    copy_body,
    read_head,
    render_response,
    upstream_head,
)

log = logging.getLogger("switchboard.egress")
CHUNK = 64 * 1024
ALLOW_ENV = "SB_EGRESS_ALLOW"


@dataclass(frozen=True)
class ProxySettings:
    """Everything the proxy needs; `address_check` is swappable so tests can reach 127.0.0.1."""

    allowlist: tuple[AllowEntry, ...]
    address_check: AddressCheck = address_refusal
    private_allow: tuple[AllowEntry, ...] = ()
    """Names the operator lets resolve to private addresses (company APIs on internal networks).
    They still never reach loopback, link-local or metadata addresses, nor `host_addresses`."""
    host_addresses: frozenset[IPAddress] = frozenset()
    """Where the Docker host answers (its networks' gateways): refused even for those names."""
    max_header_bytes: int = 16 * 1024
    idle_timeout: float = 120.0
    connect_timeout: float = 10.0
    max_connections: int = 256


class _Activity:
    """Shared idle clock for both directions of a relay: one busy direction keeps both open."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.last = asyncio.get_running_loop().time()

    def touch(self) -> None:
        self.last = asyncio.get_running_loop().time()

    def remaining(self) -> float:
        return self.last + self.timeout - asyncio.get_running_loop().time()


class EgressProxy:
    """Serves CONNECT tunnels and absolute-URI http:// requests, one request per connection."""

    def __init__(self, settings: ProxySettings) -> None:
        self.settings = settings
        self._active = 0

    async def start(self, host: str, port: int) -> asyncio.Server:
        limit = self.settings.max_header_bytes
        return await asyncio.start_server(self.handle, host, port, limit=limit)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer.get_extra_info("peername"))
        target = "-"
        self._active += 1
        try:
            if self._active > self.settings.max_connections:
                raise HttpError(503, "the egress proxy is at its connection limit; retry later")
            head = await read_head(reader, self.settings.idle_timeout)
            connect = head.method == "CONNECT"
            host, port = _authority(head.target) if connect else _absolute_uri(head.target)
            host = normalise_host(host)
            target = f"{host}:{port}"
            await self._serve(head, host, port, reader, writer)
        except HttpError as error:
            verdict = "refused" if error.status == 403 else f"failed ({error.status})"
            log.warning("egress %s %s for %s: %s", verdict, target, peer, error.reason)
            with contextlib.suppress(OSError, TimeoutError):
                writer.write(render_response(error.status, error.reason))
                await _linger(reader, writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client or upstream went away, or went idle: nothing left to answer
        finally:
            self._active -= 1
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _serve(
        self,
        head: RequestHead,
        host: str,
        port: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        up_reader, up_writer = await self._open(host, port)
        activity = _Activity(self.settings.idle_timeout)
        try:
            if head.method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                upload = _pipe(reader, up_writer, activity)
            else:
                up_writer.write(upstream_head(head, host, port))
                upload = copy_body(head, reader, up_writer, self.settings.idle_timeout)
            await _both(upload, _pipe(up_reader, writer, activity), tunnel=head.method == "CONNECT")
        finally:
            up_writer.close()

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        refusal = target_refusal(host, port, self.settings.allowlist)
        if refusal is not None:
            raise HttpError(403, refusal)
        addresses = await self._resolve(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(str(address), port), self.settings.connect_timeout
                )
            except (OSError, TimeoutError) as error:
                failure = error
        raise HttpError(502, f"could not connect to {host}:{port}: {failure or 'no address'}")

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address the name has, each checked; one bad address refuses the whole name."""
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM),
                self.settings.connect_timeout,
            )
        except (OSError, TimeoutError) as error:
            raise HttpError(502, f"could not resolve {host}: {error}") from error
        addresses = list(dict.fromkeys(_address(str(info[4][0])) for info in infos))
        private_ok = private_permitted(host, port, self.settings.private_allow)
        for address in addresses:
            reason = self._refusal(address, private_ok=private_ok)
            if reason is not None:
                raise HttpError(403, f"{host} resolves to {address}, {reason}")
        log.info("egress allowed %s:%d via %s", host, port, addresses[0])
        return addresses

    def _refusal(self, address: IPAddress, *, private_ok: bool) -> str | None:
        if not private_ok:
            return self.settings.address_check(address)
        if address in self.settings.host_addresses:
            return "an address of the Docker host"
        return address_refusal(address, private_ok=True)


async def _both(
    upload: Coroutine[object, object, None],
    download: Coroutine[object, object, None],
    *,
    tunnel: bool,
) -> None:
    """Runs both copies; the first failure cancels the other. A tunnel lasts until both ends
    closed; a forwarded request is over once its response is, even if the body is unread."""
    up, down = asyncio.ensure_future(upload), asyncio.ensure_future(download)
    pending = {up, down}
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            if down in done and not tunnel:
                return
    finally:
        up.cancel()
        down.cancel()


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    activity: _Activity,
) -> None:
    """Copies until EOF, then passes the EOF on (half-close) so the other side can finish."""
    while True:
        try:
            data = await asyncio.wait_for(reader.read(CHUNK), max(activity.remaining(), 0.01))
        except TimeoutError:
            if activity.remaining() <= 0:
                raise
            continue
        if not data:
            break
        activity.touch()
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Sends the answer and EOF, then reads what the client still sends (briefly, boundedly):
    closing with unread input would reset the connection and could destroy the answer."""
    await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()
    async with asyncio.timeout(1.0):
        while await reader.read(CHUNK):
            pass


def _authority(target: str) -> tuple[str, int]:
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise HttpError(400, f"CONNECT needs host:port, got {target!r}")
    return host, int(port)


def _absolute_uri(target: str) -> tuple[str, int]:
    parts = urlsplit(target)
    if parts.scheme != "http" or not parts.netloc:
        raise HttpError(
            400, "send http:// URLs in absolute form and https:// through CONNECT (set HTTP_PROXY)"
        )
    if "@" in parts.netloc:
        raise HttpError(400, "credentials in proxied URLs are not supported")
    try:
        port = parts.port or 80
    except ValueError as error:
        raise HttpError(400, f"bad port in {target!r}") from error
    host = parts.netloc.rsplit(":", 1)[0] if parts.netloc.count(":") == 1 else parts.netloc
    return host, port


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])


def _peer(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def parse_args(argv: Sequence[str], environ: dict[str, str]) -> tuple[str, int, ProxySettings]:
    parser = argparse.ArgumentParser(prog="egress-proxy", description=__doc__)
    parser.add_argument("--listen", default="0.0.0.0:3128", help="HOST:PORT to listen on")
    parser.add_argument("--allow", action="append", default=[], help="HOST or HOST:PORT")
    parser.add_argument(
        "--private-allow",
        action="append",
        default=[],
        help="HOST or HOST:PORT that may resolve to private addresses (operator's choice)",
    )
    parser.add_argument(
        "--host-address",
        action="append",
        default=[],
        help="an address of the Docker host, refused even for --private-allow names",
    )
    parser.add_argument("--idle-timeout", type=float, default=120.0)
    parser.add_argument("--max-connections", type=int, default=256)
    args = parser.parse_args(argv)
    entries = [*args.allow, *filter(None, environ.get(ALLOW_ENV, "").split(","))]
    if not entries:
        parser.error(f"give at least one --allow HOST[:PORT] (or set {ALLOW_ENV})")
    try:
        allowlist = parse_allowlist(entries)
        private_allow = parse_allowlist(args.private_allow)
        host_addresses = frozenset(_address(text) for text in args.host_address)
    except ValueError as error:
        parser.error(str(error))
    host, _, port = args.listen.rpartition(":")
    settings = ProxySettings(
        allowlist,
        private_allow=private_allow,
        host_addresses=host_addresses,
        idle_timeout=args.idle_timeout,
        max_connections=args.max_connections,
    )
    return host, int(port), settings


async def serve(host: str, port: int, settings: ProxySettings) -> None:
    """Listens until killed; retries the bind while the container's DNS name appears."""
    for attempt in range(50):
        try:
            server = await EgressProxy(settings).start(host, port)
            break
        except OSError:
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
    allowed = ", ".join(str(entry) for entry in settings.allowlist)
    log.info("egress proxy listening on %s:%d, allowing %s", host, port, allowed)
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    host, port, settings = parse_args(sys.argv[1:] if argv is None else argv, dict(os.environ))
    asyncio.run(serve(host, port, settings))


if __name__ == "__main__":
    main()
