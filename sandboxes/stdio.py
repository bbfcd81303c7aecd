"""MCP over a container's attached stdin/stdout, as an `mcp` client transport.

The attach socket carries stdout and stderr multiplexed in frames (an 8-byte header: stream
type, three zero bytes, big-endian length). stdout is parsed as newline-delimited JSON-RPC;
stderr goes to a bounded log. The socket is driven without threads: non-blocking, awaited with
`anyio.wait_readable`/`wait_writable`.
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


class StdioSocket:
    """Frames in, bytes out, on the raw attach socket."""

    def __init__(self, attached: Any, stderr: BoundedLog) -> None:
        """`attached` is what `APIClient.attach_socket` returns: a wrapper around the socket."""
        self._attached = attached
        sock: socket.socket = attached._sock
        sock.setblocking(False)
        self._sock = sock
        self._stderr = stderr
        self._buffer = bytearray()
        self._writing = anyio.Lock(fast_acquire=True)
        self.ended = anyio.Event()
        """Set once the container's output has ended: the server exited or was removed."""

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

    async def _recv(self) -> bytes:
        while True:
            await anyio.wait_readable(self._sock)
            try:
                return self._sock.recv(65536)
            except BlockingIOError:
                continue

    async def _exactly(self, size: int) -> bytes | None:
        while len(self._buffer) < size:
            chunk = await self._recv()
            if not chunk:
                return None
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def stdout_chunks(self) -> AsyncIterator[bytes]:
        """stdout payloads in order until the container's output ends; stderr is diverted."""
        while True:
            header = await self._exactly(8)
            if header is None:
                return
            kind, size = header[0], struct.unpack(">I", header[4:])[0]
            payload = await self._exactly(size)
            if payload is None:
                return
            if kind == STDOUT:
                yield payload
            else:
                self._stderr.write(payload)

    def note(self, message: str) -> None:
        """Add Switchboard's own explanation to the server's log."""
        self._stderr.write(message.encode() + b"\n")

    def close(self) -> None:
        """Close the HTTP response the socket came from first, then the socket itself."""
        response = getattr(self._attached, "_response", None)
        with suppress(OSError, ValueError):
            if response is not None:
                response.close()
        with suppress(OSError, ValueError):
            self._attached.close()
        self._sock.close()


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
    """Memory streams for `mcp.Client`, pumped to and from the attach socket."""
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
