"""How Switchboard runs uvicorn: the options `switchboard serve` (and the tests' live server)
pass, including an HTTP protocol with deadlines for reading each request.

uvicorn bounds only the idle time between requests on a kept-alive connection. A client that
connects and says nothing, sends its headers a byte at a time, or trickles its body would hold
its connection (and the request's task) for as long as it likes: a handful of such slow-loris
clients can use up the connections a server can hold. So each request's line and headers must
arrive within `request_header_timeout_seconds` of the connection opening or the request's first
byte, and its body within `request_body_timeout_seconds` of its headers; otherwise the
connection is answered 408 (when nothing was answered yet) and closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from switchboard.settings import Settings

logger = logging.getLogger(__name__)


class RequestDeadlines(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each part of a request."""

    header_seconds: ClassVar[float]
    body_seconds: ClassVar[float]
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_seconds, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # the first request's clock started with the connection
            self._arm(self.header_seconds, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
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
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            message = f"the request's {part} did not arrive within {seconds:g} s\n".encode()
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(message), message)
            )
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive() sees a disconnect; its sends go nowhere
            cycle.message_event.set()
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` or `uvicorn.Config`, besides the app and address."""

    class Configured(RequestDeadlines):
        header_seconds = settings.request_header_timeout_seconds
        body_seconds = settings.request_body_timeout_seconds

    return {
        "http": Configured,
        "log_level": settings.log_level,
        "proxy_headers": False,
        "timeout_graceful_shutdown": 10,
    }
