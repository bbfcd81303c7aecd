"""Slow-loris clients against a real uvicorn server configured as `switchboard serve` is.

A client that opens a connection and says nothing, sends its headers a byte at a time, or
trickles its body must be cut off once `SWITCHBOARD_REQUEST_HEADER_TIMEOUT_SECONDS` or
`SWITCHBOARD_REQUEST_BODY_TIMEOUT_SECONDS` has passed (with 408 when nothing was answered yet);
one whose headers never end gets 431 at once. While they hang on, everyone else is served as
usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from registry.models import Role
from switchboard.serving import MAX_HEAD_BYTES
from tests.conftest import user_with_token
from tests.e2e.live_server import INITIALIZE, LiveServer, live_switchboard

HEADER_SECONDS = 1.0
BODY_SECONDS = 1.5
GRACE = 2.5
"""How much later than its deadline a connection may close: timer and scheduling slack on a
machine shared with another test worker. A trickled head (48 bytes) still outlasts it."""
TRICKLE = 0.1
"""Seconds between the bytes a slow client sends: slow enough to outlast any deadline."""


@asynccontextmanager
async def serving(tmp_path: Path, database_url: str) -> AsyncIterator[LiveServer]:
    async with live_switchboard(
        tmp_path / "data",
        database_url,
        request_header_timeout_seconds=HEADER_SECONDS,
        request_body_timeout_seconds=BODY_SECONDS,
    ) as server:
        yield server


def head(server: LiveServer, method: str, path: str, **headers: str) -> bytes:
    host = urlsplit(server.url).netloc
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class SlowClient:
    """A raw connection that sends `prefix` at once and then `trickle` one byte at a time,
    noting when the server answered and when it hung up."""

    def __init__(
        self, server: LiveServer, prefix: bytes, trickle: bytes, pace: float = TRICKLE
    ) -> None:
        self.server = server
        self.prefix = prefix
        self.trickle = trickle
        self.pace = pace
        self.answer = b""
        self.lasted = 0.0

    async def run(self) -> None:
        address = urlsplit(self.server.url)
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        started = time.monotonic()
        reading = asyncio.create_task(self._read(reader))
        try:
            writer.write(self.prefix)
            for byte in self.trickle:
                if reading.done():
                    break
                writer.write(bytes([byte]))
                await asyncio.sleep(self.pace)
        except ConnectionError:
            pass
        try:
            await asyncio.wait_for(reading, HEADER_SECONDS + BODY_SECONDS + 30)
        finally:
            self.lasted = time.monotonic() - started
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65_536):
                self.answer += chunk


async def served_meanwhile(
    server: LiveServer, token: str, until: asyncio.Task[None]
) -> list[float]:
    """Latencies of ordinary requests (health checks and MCP handshakes) while `until` runs."""
    latencies = []
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        while not until.done() or not latencies:
            started = time.monotonic()
            assert (await http.get("/healthz")).status_code == 200
            opened = await http.post("/mcp", json=INITIALIZE, headers=headers)
            assert opened.status_code == 200, opened.text
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.05)
    return latencies


async def test_slow_clients_are_cut_off_and_hold_up_no_one(
    tmp_path: Path, database_url: str
) -> None:
    async with serving(tmp_path, database_url) as server:
        token = await user_with_token(server.services, "dana", Role.developer, ["mcp"])
        bearer = f"Bearer {token}"
        body = json.dumps(INITIALIZE).encode()
        post = head(
            server,
            "POST",
            "/mcp",
            Authorization=bearer,
            Accept="application/json, text/event-stream",
            **{"Content-Type": "application/json", "Content-Length": str(len(body))},
        )
        silent = [SlowClient(server, b"", b"") for _ in range(5)]
        slow_heads = [SlowClient(server, b"", head(server, "GET", "/healthz")) for _ in range(5)]
        slow_bodies = [SlowClient(server, post, body) for _ in range(5)]
        endless = b"GET /healthz HTTP/1.1\r\nX-Padding: " + b"a" * (MAX_HEAD_BYTES + 4096)
        huge_heads = [SlowClient(server, endless, b"") for _ in range(5)]
        slow = [*silent, *slow_heads, *slow_bodies, *huge_heads]
        everyone = asyncio.ensure_future(asyncio.gather(*(client.run() for client in slow)))
        latencies = await served_meanwhile(server, token, everyone)
        await everyone

    assert max(latencies) < 1.0, f"ordinary requests waited on the slow ones: {latencies}"
    for client in [*silent, *slow_heads]:
        assert client.lasted < HEADER_SECONDS + GRACE, client.lasted
        assert client.answer.startswith(b"HTTP/1.1 408 "), client.answer
    for client in slow_bodies:
        assert client.lasted < HEADER_SECONDS + BODY_SECONDS + GRACE, client.lasted
        assert client.answer.startswith(b"HTTP/1.1 408 "), client.answer
    for client in huge_heads:
        assert client.lasted < HEADER_SECONDS, client.lasted
        assert client.answer.startswith(b"HTTP/1.1 431 "), client.answer


async def test_a_client_within_the_deadlines_is_served(tmp_path: Path, database_url: str) -> None:
    """Slow, but each part arrives in time: its request is answered as usual."""
    async with serving(tmp_path, database_url) as server:
        request = head(server, "GET", "/healthz", Connection="close")
        line_end = request.index(b"\r\n") + 2
        pace = HEADER_SECONDS / 2 / (len(request) - line_end)
        client = SlowClient(server, request[:line_end], request[line_end:], pace)
        started = time.monotonic()
        await client.run()
    assert client.answer.startswith(b"HTTP/1.1 200 "), client.answer
    assert b'"status":"ok"' in client.answer
    assert time.monotonic() - started < HEADER_SECONDS + GRACE


async def test_an_idle_connection_stays_open_for_the_keep_alive(
    tmp_path: Path, database_url: str
) -> None:
    """Clients drop idle connections after their own expiry (httpx: 5 s); the server's keep-alive
    must outlast it, or a request sent as the server hangs up fails with nothing read."""
    async with live_switchboard(tmp_path / "data", database_url, keep_alive_seconds=1.5) as server:
        host, port = urlsplit(server.url).netloc.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for pause in (0.0, 1.0):
                await asyncio.sleep(pause)
                writer.write(head(server, "GET", "/healthz"))
                await writer.drain()
                answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                assert answer.startswith(b"HTTP/1.1 200"), answer
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in answer.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                assert json.loads(await reader.readexactly(length))
            idle = time.monotonic()
            assert await asyncio.wait_for(reader.read(1), 1.5 + GRACE) == b""
            assert time.monotonic() - idle >= 1.0, "closed only once idle for the keep-alive"
        finally:
            writer.close()
