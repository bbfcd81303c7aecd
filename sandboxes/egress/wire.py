"""Just enough HTTP/1.1 for the egress proxy: read a request head, frame its body, answer errors.

Strict on purpose: anything ambiguous (folded headers, both Content-Length and Transfer-Encoding)
is refused rather than guessed at, so what the proxy checks is what the upstream receives.
Standard library only: it runs inside the proxy image.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

CHUNK = 64 * 1024
# Hop-by-hop headers end at the proxy (RFC 9110 section 7.6.1); the proxy sets its own Connection.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_STRIPPED = _HOP_BY_HOP | {"host", "content-length"}


class HttpError(Exception):
    """Ends the exchange with `status` and a one-line `reason` for the client and the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


async def read_head(reader: asyncio.StreamReader, idle: float) -> RequestHead:
    """Reads the request line and headers; `limit` on the reader bounds their size."""
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), idle)
    except asyncio.LimitOverrunError as error:
        raise HttpError(431, "request head too large") from error
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise HttpError(400, "request head ended early") from error
        raise
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as error:  # pragma: no cover - latin-1 decodes every byte
        raise HttpError(400, "request head is not text") from error
    request_line, *lines = text[:-4].split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, f"malformed request line {request_line[:80]!r}")
    return RequestHead(parts[0].upper(), parts[1], tuple(_header(line) for line in lines))


def _header(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not name or name != name.strip() or line[0] in " \t":
        raise HttpError(400, f"malformed header line {line[:80]!r}")
    return name, value.strip()


def upstream_head(head: RequestHead, host: str, port: int) -> bytes:
    """The request as sent upstream: origin-form target, the URL's Host, `Connection: close`."""
    parts = urlsplit(head.target)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    authority = host if port == 80 else f"{host}:{port}"
    named = {token.strip().lower() for v in head.header("connection") for token in v.split(",")}
    lines = [f"{head.method} {path} HTTP/1.1\r\n", f"Host: {authority}\r\n"]
    lines += [
        f"{name}: {value}\r\n"
        for name, value in head.headers
        if name.lower() not in _STRIPPED and name.lower() not in named
    ]
    framing = _framing(head)
    if framing == "chunked":
        lines.append("Transfer-Encoding: chunked\r\n")
    elif framing is not None:
        lines.append(f"Content-Length: {framing}\r\n")
    return "".join([*lines, "Connection: close\r\n\r\n"]).encode("latin-1")


def _framing(head: RequestHead) -> str | int | None:
    """`"chunked"`, a Content-Length, or None for no body; refuses ambiguous framing."""
    encodings = head.header("transfer-encoding")
    lengths = set(head.header("content-length"))
    if encodings and lengths:
        raise HttpError(400, "both Transfer-Encoding and Content-Length given; send one")
    if encodings:
        if [e.strip().lower() for e in ",".join(encodings).split(",")] != ["chunked"]:
            raise HttpError(501, "only `Transfer-Encoding: chunked` is supported")
        return "chunked"
    if len(lengths) > 1 or (lengths and not next(iter(lengths)).isdigit()):
        raise HttpError(400, "invalid Content-Length")
    return int(lengths.pop()) if lengths else None


async def copy_body(
    head: RequestHead,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    idle: float,
) -> None:
    """Streams the request body exactly as framed, so nothing after it reaches the upstream."""
    framing = _framing(head)
    if framing == "chunked":
        await _copy_chunked(reader, writer, idle)
    elif isinstance(framing, int):
        await _copy_exactly(framing, reader, writer, idle)
    await writer.drain()


async def _copy_exactly(
    size: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle: float
) -> None:
    while size > 0:
        data = await asyncio.wait_for(reader.read(min(size, CHUNK)), idle)
        if not data:
            raise asyncio.IncompleteReadError(b"", size)
        size -= len(data)
        writer.write(data)
        await writer.drain()


async def _copy_chunked(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle: float
) -> None:
    while True:
        line = await asyncio.wait_for(reader.readuntil(b"\r\n"), idle)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as error:
            raise HttpError(400, "malformed chunk size") from error
        writer.write(line)
        if size == 0:
            break
        await _copy_exactly(size + 2, reader, writer, idle)
    while (trailer := await asyncio.wait_for(reader.readuntil(b"\r\n"), idle)) != b"\r\n":
        writer.write(trailer)
    writer.write(b"\r\n")


def render_response(status: int, reason: str) -> bytes:
    """A complete short response whose body is the one-line reason."""
    body = (reason.replace("\r", " ").replace("\n", " ") + "\n").encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Switchboard-Egress: proxy\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body
