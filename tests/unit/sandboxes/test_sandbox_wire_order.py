"""A sandbox hands the caller a server's log messages before the answer sent after them.

The server here is a socket the test writes JSON-RPC lines to by hand, so the log messages and
the answer arrive in one read, as they do from a fast server on a busy machine.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from sandboxes.sandbox import Sandbox, SandboxSpec
from sandboxes.stdio import BoundedLog, StdioSocket
from tests.slow_caller import SlowCaller

LOGS = 3


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


async def _serve(sock: socket.socket) -> None:
    """Answers `initialize`; answers each `tools/call` after three logs and a resource update."""
    sock.setblocking(False)
    pending = b""
    while True:
        await anyio.wait_readable(sock)
        chunk = sock.recv(65536)
        if not chunk:
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            message = json.loads(raw) if raw.strip() else {}
            if "id" not in message or "method" not in message:
                continue
            if message["method"] == "initialize":
                result = {
                    "protocolVersion": message["params"]["protocolVersion"],
                    "capabilities": {"tools": {}, "logging": {}, "resources": {}},
                    "serverInfo": {"name": "wire-order", "version": "1"},
                }
                sock.sendall(_line({"jsonrpc": "2.0", "id": message["id"], "result": result}))
            elif message["method"] == "tools/call":
                burst = [
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/message",
                        "params": {"level": "info", "data": f"log {n}"},
                    }
                    for n in range(1, LOGS + 1)
                ]
                burst.append(
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/resources/updated",
                        "params": {"uri": "file:///changed"},
                    }
                )
                answer = {"content": [{"type": "text", "text": "done"}], "isError": False}
                burst.append({"jsonrpc": "2.0", "id": message["id"], "result": answer})
                sock.sendall(b"".join(_line(m) for m in burst))
            else:
                error = {"code": -32601, "message": "not here"}
                sock.sendall(_line({"jsonrpc": "2.0", "id": message["id"], "error": error}))


@asynccontextmanager
async def wire_sandbox() -> AsyncIterator[Sandbox]:
    ours, theirs = socket.socketpair()
    sandbox = Sandbox(None, "no-container", BoundedLog(), SandboxSpec(image_id="none"))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_serve, theirs)
        tasks.start_soon(sandbox._run, StdioSocket(ours, sandbox.log))
        with anyio.fail_after(10):
            await sandbox._ready.wait()
        assert sandbox.client is not None, sandbox.log.tail()
        try:
            yield sandbox
        finally:
            tasks.cancel_scope.cancel()
            theirs.close()


async def test_logs_and_updates_reach_the_caller_before_the_answer_sent_after_them() -> None:
    async with wire_sandbox() as sandbox:
        for _ in range(3):
            caller = SlowCaller()
            with sandbox.attached(caller):
                result = await sandbox.call_tool("work", {}, timeout=10)
            assert result.content[0].text == "done"  # type: ignore[union-attr]
            assert caller.seen == ["log 1", "log 2", "log 3", "file:///changed"]
