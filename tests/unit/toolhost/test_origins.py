"""`Host` and `Origin` compare as URLs do: case-insensitive names, default ports implied."""

from __future__ import annotations

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from toolhost.origins import CheckOrigin


async def reached(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("reached")(scope, receive, send)


async def status(public_url: str, host: str, origin: str | None = None) -> int:
    app = CheckOrigin(reached, public_url)
    headers = {"Host": host} if origin is None else {"Host": host, "Origin": origin}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return (await client.post("/mcp", headers=headers)).status_code


@pytest.mark.parametrize(
    ("public_url", "host", "origin"),
    [
        ("https://sb.example.com:443", "sb.example.com", "https://sb.example.com"),
        ("https://sb.example.com", "sb.example.com:443", "https://sb.example.com:443"),
        ("https://SB.Example.com", "sb.example.com", "https://SB.EXAMPLE.COM"),
        ("http://sb.example.com", "SB.EXAMPLE.COM:80", None),
        ("http://127.0.0.1:8080", "LOCALHOST", "http://localhost:5173"),
        ("http://127.0.0.1:8080", "[::1]:8080", "https://[::1]"),
    ],
)
async def test_the_same_site_written_another_way_passes(
    public_url: str, host: str, origin: str | None
) -> None:
    assert await status(public_url, host, origin) == 200


@pytest.mark.parametrize(
    ("host", "origin", "expected"),
    [
        ("evil.example", None, 421),
        ("sb.example.com.evil.example", None, 421),
        ("", None, 421),
        ("sb.example.com", "https://evil.example", 403),
        ("sb.example.com", "http://sb.example.com", 403),
        ("sb.example.com", "https://sb.example.com:8443", 403),
        ("sb.example.com", "null", 403),
        ("sb.example.com", "https://sb.example.com:99999", 403),
    ],
)
async def test_other_sites_are_refused(host: str, origin: str | None, expected: int) -> None:
    assert await status("https://sb.example.com", host, origin) == expected
