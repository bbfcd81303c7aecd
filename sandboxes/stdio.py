"""MCP over a server's stdin and stdout, as an `mcp` client transport.

Two transports carry them (`sandboxes.stdio_listener` chooses): a unix socket the server's
entrypoint connected to, which carries stdin and stdout as they are, and Docker's attach stream,
which multiplexes stdout and stderr in frames (an 8-byte header: stream type, three zero bytes,
big-endian length). stdout is parsed as newline-delimited JSON-RPC; stderr goes to a bounded log.
Sockets are driven without threads: non-blocking, awaited with `anyio.wait_readable`/
`wait_writable`.
"""

from __future__ import annotations

import json
import socket
import struct
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import mcp_types as types
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage

STDOUT, STDERR = 1, 2
MAX_LINE = 8 * 1024 * 1024
"""A stdout line longer than this is a protocol violation, not a message to buffer."""


class BoundedLog:
    """The tail of a server's stderr: enough to explain a failure, never unbounded."""

    def __init__(self, max_bytes: int = 64 * 1024) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._max = max_bytes

    def write(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        while self._size > self._max and len(self._chunks) > 1:
            self._size -= len(self._chunks.popleft())

    def tail(self, lines: int = 40) -> str:
        text = b"".join(self._chunks)[-self._max :].decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


async def _receive(sock: socket.socket) -> bytes:
    """The next bytes on a non-blocking socket; empty at its end."""
    while True:
        await anyio.wait_readable(sock)
        try:
            return sock.recv(65536)
        except BlockingIOError:
            continue


def _close(sock: socket.socket) -> None:
    """Wake whoever waits on the socket (with `ClosedResourceError`), then close it."""
    _wake_waiters(sock)
    sock.close()


def _wake_waiters(sock: socket.socket) -> None:
    if sock.fileno() >= 0:
        anyio.notify_closing(sock)


class _Frames:
    """Docker's multiplexed attach stream, read as (stream type, payload) frames."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    async def next(self) -> tuple[int, bytes] | None:
        header = await self._exactly(8)
        if header is None:
            return None
        payload = await self._exactly(struct.unpack(">I", header[4:])[0])
        return None if payload is None else (header[0], payload)

    async def _exactly(self, size: int) -> bytes | None:
        while len(self._buffer) < size:
            chunk = await _receive(self._sock)
            if not chunk:
                return None
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def _attached_socket(attached: Any) -> socket.socket:
    """The raw socket inside what `APIClient.attach_socket` returns, made non-blocking."""
    sock: socket.socket = attached._sock
    sock.setblocking(False)
    return sock


def _close_attached(attached: Any, sock: socket.socket) -> None:
    """Close the HTTP response the socket came from first, then the socket itself."""
    _wake_waiters(sock)
    response = getattr(attached, "_response", None)
    with suppress(OSError, ValueError):
        if response is not None:
            response.close()
    with suppress(OSError, ValueError):
        attached.close()
    sock.close()


class StdioSocket:
    """A server's stdin and stdout as one connected socket: bytes out, bytes in."""

    def __init__(self, sock: socket.socket, log: BoundedLog) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._log = log
        self._writing = anyio.Lock(fast_acquire=True)
        self.ended = anyio.Event()
        """Set once the server's output has ended: it exited or was removed."""

    async def send(self, data: bytes) -> None:
        """Whole messages from any task: a lock keeps two partial writes from interleaving."""
        async with self._writing:
            await self._send(data)

    async def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self._sock.send(view)
            except BlockingIOError:
                await anyio.wait_writable(self._sock)
                continue
            view = view[sent:]

    async def stdout_chunks(self) -> AsyncIterator[bytes]:
        """stdout in order until the server's output ends."""
        while chunk := await _receive(self._sock):
            yield chunk

    def note(self, message: str) -> None:
        """Add Switchboard's own explanation to the server's log."""
        self._log.write(message.encode() + b"\n")

    def close(self) -> None:
        _close(self._sock)


class AttachedStdio(StdioSocket):
    """stdin, stdout and stderr on Docker's attach stream: frames in, bytes out."""

    def __init__(self, attached: Any, log: BoundedLog) -> None:
        """`attached` is what `APIClient.attach_socket` returns: a wrapper around the socket."""
        super().__init__(_attached_socket(attached), log)
        self._attached = attached
        self._frames = _Frames(self._sock)

    async def stdout_chunks(self) -> AsyncIterator[bytes]:
        """stdout payloads in order until the container's output ends; stderr is diverted."""
        while frame := await self._frames.next():
            kind, payload = frame
            if kind == STDOUT:
                yield payload
            else:
                self._log.write(payload)

    def close(self) -> None:
        _close_attached(self._attached, self._sock)


class AttachedLog:
    """Docker's attach stream of a server whose stdio is a socket: all of it is log.

    A server writes nothing but its log there (`sb-entry` moved stdout to the socket), and
    tini's and `sb-entry`'s own complaints arrive there too, so every frame is kept.
    """

    def __init__(self, attached: Any, log: BoundedLog) -> None:
        self._attached = attached
        self._sock = _attached_socket(attached)
        self._log = log
        self.done = anyio.Event()
        """Set once the container's output has ended (it exited) or the stream was closed."""

    async def follow(self) -> None:
        frames = _Frames(self._sock)
        try:
            with suppress(anyio.ClosedResourceError, OSError, ValueError):
                while frame := await frames.next():
                    self._log.write(frame[1])
        finally:
            self.done.set()

    def close(self) -> None:
        _close_attached(self._attached, self._sock)


Intercept = Callable[[dict[str, Any]], Awaitable[bool]]
"""Sees each message from the server first; `True` means it was handled and the session never
gets it (`sandboxes.direct_calls`)."""


def parse_message(message: Any) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_python(message, by_name=False))
    except ValueError as exc:
        return exc


@asynccontextmanager
async def socket_transport(
    stdio: StdioSocket, intercept: Intercept | None = None
) -> AsyncIterator[TransportStreams]:
    """Memory streams for `mcp.Client`, pumped to and from the server's stdio."""
    to_session, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    write_stream, from_session = anyio.create_memory_object_stream[SessionMessage](16)

    async def pump_stdout() -> None:
        try:
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                await _pump_stdout()
        finally:
            stdio.ended.set()

    async def _pump_stdout() -> None:
        async with to_session:
            pending = bytearray()
            async for chunk in stdio.stdout_chunks():
                if b"\n" not in chunk:
                    pending += chunk
                else:
                    *lines, rest = (bytes(pending) + chunk).split(b"\n")
                    pending = bytearray(rest)
                    for line in lines:
                        if line.strip():
                            await _deliver(line)
                if len(pending) > MAX_LINE:
                    stdio.note(
                        "[switchboard] the server wrote a stdout line over 8 MiB; session closed"
                    )
                    return

    async def _deliver(line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError as exc:
            await to_session.send(exc)
            return
        if intercept is not None and isinstance(message, dict) and await intercept(message):
            return
        await to_session.send(parse_message(message))

    async def pump_stdin() -> None:
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await _pump_stdin()

    async def _pump_stdin() -> None:
        async with from_session:
            async for message in from_session:
                body = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await stdio.send(body.encode() + b"\n")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(pump_stdout)
        tasks.start_soon(pump_stdin)
        try:
            yield read_stream, write_stream
        finally:
            tasks.cancel_scope.cancel()
            await read_stream.aclose()
            await write_stream.aclose()
