"""How Switchboard runs uvicorn: the options `switchboard serve` (and the tests' live server)
pass, including an HTTP protocol that bounds how long and how large a request's reading may be.

uvicorn bounds only the idle time between requests on a kept-alive connection. A client that
connects and says nothing, sends its headers a byte at a time, or trickles its body would hold
its connection (and the request's task) for as long as it likes: a handful of such slow-loris
clients can use up the connections a server can hold. So each request's line and headers must
arrive within `request_header_timeout_seconds` of the connection opening or the request's first
byte, and its body within `request_body_timeout_seconds` of its headers; otherwise the
connection is answered 408 (when nothing was answered yet) and closed. And since uvicorn's
httptools parser buffers a header of any length, a request line and headers over
`MAX_HEAD_BYTES` get 431 and the connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from contextlib import suppress
from http import HTTPStatus
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from switchboard.settings import Settings

logger = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
"""Largest request line and headers (uvicorn's h11 parser stops at 16 KiB; proxies at 8-32)."""
LINGER_SECONDS = 2.0
"""How long a refused connection stays open for reading (and discarding) what the client
still sends, so that closing does not reset the connection before the refusal is read."""


class RequestDeadlines(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each part of a request and a size
    limit for its head."""

    header_seconds: ClassVar[float]
    body_seconds: ClassVar[float]
    _deadline: asyncio.TimerHandle | None = None
    _head_bytes: int | None = None
    """Bytes received since the current request's head began; `None` once it is complete."""
    _refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _no_delay(transport)
        self._head_bytes = 0
        self._arm(self.header_seconds, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._head_bytes is not None and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                logger.info(
                    "closed a connection from %s: its request's head is too large", self.client
                )
                self._refuse(
                    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    f"the request line and headers exceed {MAX_HEAD_BYTES} bytes",
                )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_bytes is None:  # the first request's head began with the connection
            self._head_bytes = 0
            self._arm(self.header_seconds, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._head_bytes = None
        self._arm(self.body_seconds, "body")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def _arm(self, seconds: float, part: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire, seconds, part)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, seconds: float, part: str) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        logger.info(
            "closed a connection from %s: its request's %s took over %s s",
            self.client,
            part,
            seconds,
        )
        self._refuse(
            HTTPStatus.REQUEST_TIMEOUT, f"the request's {part} did not arrive within {seconds:g} s"
        )

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        """Answer `status` unless a response is under way, and hang up; the app's `receive()`
        then sees a disconnect, and whatever it still sends goes nowhere."""
        self._refused = True
        self._disarm()
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            text = (message + "\n").encode()
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                % (status.value, status.phrase.encode(), len(text), text)
            )
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()  # the connection closes when the client's side does, or:
        self._deadline = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def _no_delay(transport: asyncio.Transport) -> None:
    """Send each write at once. uvicorn writes a response's head and body separately; with
    Nagle's algorithm on, the body waits for the client to acknowledge the head, which a client
    with nothing to send delays by up to 40 ms. uvloop sets this itself; asyncio's own loop
    (Python 3.11) skips sockets accepted with protocol 0, which is how it accepts them."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` or `uvicorn.Config`, besides the app and address."""

    class Configured(RequestDeadlines):
        header_seconds = settings.request_header_timeout_seconds
        body_seconds = settings.request_body_timeout_seconds

    return {
        "http": Configured,
        "log_level": settings.log_level,
        "proxy_headers": False,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "timeout_graceful_shutdown": 10,
    }
