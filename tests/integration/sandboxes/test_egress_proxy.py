"""The egress proxy in-process on 127.0.0.1, against a tiny real upstream on 127.0.0.1.

The proxy refuses loopback, so every test but the loopback one swaps in an address check
that lets loopback through: the upstream is the only thing listening there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest

from sandboxes.egress.policy import IPAddress, address_refusal, parse_allowlist
from sandboxes.egress.proxy import EgressProxy, ProxySettings, parse_args


def allow_loopback(address: IPAddress) -> str | None:
    return None if address.is_loopback else address_refusal(address)


@dataclass
class Upstream:
    """Answers every request with its own request head and body, then closes."""

    port: int = 0
    seen: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            writer.close()
            return
        body = b""
        if b"content-length: " in head.lower():
            size = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = await reader.readexactly(size)
        elif b"transfer-encoding: chunked" in head.lower():
            body = await reader.readuntil(b"0\r\n\r\n")
        self.seen.append(head + body)
        reply = head + body
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply) + reply)
        await writer.drain()
        writer.close()


@dataclass
class Rig:
    upstream: Upstream
    proxy_port: int
    settings: ProxySettings

    async def exchange(self, request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.proxy_port)
        writer.write(request)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return response


async def start_rig(upstream: Upstream, settings: ProxySettings) -> tuple[Rig, asyncio.Server]:
    proxy = await EgressProxy(settings).start("127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    return Rig(upstream, port, settings), proxy


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    upstream = Upstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    upstream.port = server.sockets[0].getsockname()[1]
    settings = ProxySettings(
        parse_allowlist([f"localhost:{upstream.port}"]), address_check=allow_loopback
    )
    ready, proxy = await start_rig(upstream, settings)
    async with server, proxy:
        yield ready


async def test_connect_tunnels_bytes_both_ways(rig: Rig) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.proxy_port)
    writer.write(f"CONNECT localhost:{rig.upstream.port} HTTP/1.1\r\n\r\n".encode())
    assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 200 Connection established\r\n\r\n"
    writer.write(b"GET /inside HTTP/1.1\r\nHost: x\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert response.startswith(b"HTTP/1.1 200 OK")
    assert b"GET /inside" in response


async def test_plain_http_is_rewritten_to_origin_form(rig: Rig) -> None:
    url = f"http://LOCALHOST:{rig.upstream.port}/path?q=1"
    response = await rig.exchange(
        f"GET {url} HTTP/1.1\r\nHost: elsewhere\r\nProxy-Authorization: x\r\n"
        "Connection: keep-alive, X-Drop\r\nX-Drop: 1\r\nX-Keep: 2\r\n\r\n".encode()
    )
    assert response.startswith(b"HTTP/1.1 200 OK")
    seen = rig.upstream.seen[0].decode()
    assert seen.startswith("GET /path?q=1 HTTP/1.1\r\n")
    assert f"Host: localhost:{rig.upstream.port}\r\n" in seen
    assert "X-Keep: 2" in seen
    assert "Connection: close" in seen
    assert "Proxy-Authorization" not in seen
    assert "X-Drop" not in seen
    assert "elsewhere" not in seen


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ("Content-Length: 5\r\n", b"hello"),
        ("Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
    ],
)
async def test_request_bodies_stream_as_framed(rig: Rig, headers: str, body: bytes) -> None:
    url = f"http://localhost:{rig.upstream.port}/upload"
    trailing = b"GET http://other.example/ HTTP/1.1\r\n\r\n"  # must never reach upstream
    response = await rig.exchange(
        f"POST {url} HTTP/1.1\r\n{headers}\r\n".encode() + body + trailing
    )
    assert response.startswith(b"HTTP/1.1 200 OK")
    assert rig.upstream.seen[0].endswith(body)


@pytest.mark.parametrize(
    ("request_line", "status", "reason"),
    [
        ("CONNECT pypi.org:443", 403, "pypi.org:443 is not on this tool's egress allowlist"),
        ("CONNECT localhost:443", 403, "localhost:443 is not on this tool's egress allowlist"),
        ("CONNECT 127.0.0.1:{port}", 403, "127.0.0.1 is an IP address"),
        ("CONNECT [::1]:{port}", 403, "[::1] is an IP address"),
        ("GET http://127.0.0.1:{port}/", 403, "127.0.0.1 is an IP address"),
        ("GET http://169.254.169.254/latest/meta-data/", 403, "169.254.169.254 is an IP address"),
        ("GET /relative", 400, "absolute form"),
        ("CONNECT localhost", 400, "host:port"),
    ],
)
async def test_refusals_are_one_line_and_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture, request_line: str, status: int, reason: str
) -> None:
    line = request_line.format(port=rig.upstream.port)
    with caplog.at_level(logging.INFO, logger="switchboard.egress"):
        response = await rig.exchange(f"{line} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert reason in body.decode()
    assert body.count(b"\n") == 1
    assert any(reason in r.message for r in caplog.records)
    assert not rig.upstream.seen


async def test_names_resolving_to_loopback_are_refused_by_default(rig: Rig) -> None:
    settings = replace(rig.settings, address_check=address_refusal)
    strict, proxy = await start_rig(rig.upstream, settings)
    async with proxy:
        response = await strict.exchange(
            f"CONNECT localhost:{rig.upstream.port} HTTP/1.1\r\n\r\n".encode()
        )
    assert response.startswith(b"HTTP/1.1 403 ")
    assert b"localhost resolves to 127.0.0.1, a loopback address" in response


async def test_unreachable_upstream_is_502(rig: Rig) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    closed_port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    settings = replace(rig.settings, allowlist=parse_allowlist([f"localhost:{closed_port}"]))
    other, proxy = await start_rig(rig.upstream, settings)
    async with proxy:
        response = await other.exchange(
            f"CONNECT localhost:{closed_port} HTTP/1.1\r\n\r\n".encode()
        )
    assert response.startswith(b"HTTP/1.1 502 ")
    assert b"could not connect" in response


async def test_oversized_head_is_431(rig: Rig) -> None:
    big = "X-Big: " + "a" * rig.settings.max_header_bytes
    response = await rig.exchange(f"GET http://localhost/ HTTP/1.1\r\n{big}\r\n\r\n".encode())
    assert response.startswith(b"HTTP/1.1 431 ")


async def test_ambiguous_body_framing_is_400(rig: Rig) -> None:
    url = f"http://localhost:{rig.upstream.port}/"
    response = await rig.exchange(
        f"POST {url} HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    assert response.startswith(b"HTTP/1.1 400 ")
    assert not rig.upstream.seen


async def test_connection_limit_answers_503(rig: Rig) -> None:
    settings = replace(rig.settings, max_connections=1)
    limited, proxy = await start_rig(rig.upstream, settings)
    async with proxy:
        _, holder = await asyncio.open_connection("127.0.0.1", limited.proxy_port)
        await asyncio.sleep(0.05)
        response = await limited.exchange(b"GET http://localhost/ HTTP/1.1\r\n\r\n")
        holder.close()
    assert response.startswith(b"HTTP/1.1 503 ")


async def test_idle_clients_are_dropped(rig: Rig) -> None:
    settings = replace(rig.settings, idle_timeout=0.2)
    idle, proxy = await start_rig(rig.upstream, settings)
    async with proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", idle.proxy_port)
        writer.write(f"CONNECT localhost:{rig.upstream.port} HTTP/1.1\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 3) == b""  # closed, not hung
        writer.close()


def test_allowlist_comes_from_argv_and_environment() -> None:
    host, port, settings = parse_args(
        ["--listen", "sb-egress-x:3128", "--allow", "pypi.org"],
        {"SB_EGRESS_ALLOW": "api.github.com:443,pypi.org"},
    )
    assert (host, port) == ("sb-egress-x", 3128)
    assert [str(e) for e in settings.allowlist] == ["pypi.org", "api.github.com:443"]


def test_bad_allowlist_stops_the_proxy_with_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--allow", "10.0.0.1"], {})
    assert "use a host name" in capsys.readouterr().err
