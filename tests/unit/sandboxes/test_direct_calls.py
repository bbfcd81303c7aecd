"""Direct `tools/call`s: what goes on the wire, and how answers, progress, cancellation and a
server that went away reach the caller."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from sandboxes.direct_calls import ConnectionEndedError, DirectCalls, error_of


class Wire:
    """What the calls wrote, line by line."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.written = anyio.Event()

    async def send(self, data: bytes) -> None:
        assert data.endswith(b"\n")
        assert data.count(b"\n") == 1
        self.sent.append(json.loads(data))
        self.written.set()

    async def next(self) -> dict[str, Any]:
        await self.written.wait()
        self.written = anyio.Event()
        return self.sent[-1]


def modern(message: dict[str, Any]) -> None:
    message.setdefault("params", {}).setdefault("_meta", {})["era"] = "2026"


async def test_a_call_is_one_stamped_line_and_its_answer_is_matched_by_id() -> None:
    wire = Wire()
    calls = DirectCalls(wire.send)
    answers: list[dict[str, Any]] = []
    async with anyio.create_task_group() as tasks:

        async def call() -> None:
            answers.append(await calls.call(modern, "evaluate", {"x": 1}, meta={"level": "info"}))

        tasks.start_soon(call)
        request = await wire.next()
        assert request["method"] == "tools/call"
        assert request["params"]["name"] == "evaluate"
        assert request["params"]["arguments"] == {"x": 1}
        assert request["params"]["_meta"] == {"level": "info", "era": "2026"}
        assert isinstance(request["id"], str)
        assert not await calls.take({"jsonrpc": "2.0", "id": 7, "result": {}})
        assert await calls.take({"jsonrpc": "2.0", "id": request["id"], "result": {"ok": 1}})
    assert answers == [{"jsonrpc": "2.0", "id": request["id"], "result": {"ok": 1}}]


async def test_progress_goes_to_its_call_and_other_messages_to_the_session() -> None:
    wire = Wire()
    calls = DirectCalls(wire.send)
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: calls.call(modern, "slow", {}, progress=progress))
        request = await wire.next()
        token = request["params"]["_meta"]["progressToken"]
        note = {"progressToken": token, "progress": 1, "total": 2, "message": "half"}
        assert await calls.take({"method": "notifications/progress", "params": note})
        other = {"progressToken": "someone-else", "progress": 1}
        assert not await calls.take({"method": "notifications/progress", "params": other})
        assert not await calls.take({"method": "notifications/message", "params": {}})
        assert not await calls.take({"id": 3, "method": "sampling/createMessage"})
        await calls.take({"id": request["id"], "result": {}})
    assert seen == [(1, 2, "half")]


async def test_a_cancelled_call_tells_the_server_and_a_late_answer_is_dropped() -> None:
    wire = Wire()
    calls = DirectCalls(wire.send)
    with anyio.move_on_after(0.05):
        await calls.call(modern, "spin", {})
    request, cancelled = wire.sent
    assert cancelled["method"] == "notifications/cancelled"
    assert cancelled["params"]["requestId"] == request["id"]
    assert cancelled["params"]["_meta"] == {"era": "2026"}
    assert await calls.take({"id": request["id"], "result": {}})


async def test_calls_waiting_when_the_output_ends_fail_and_later_ones_are_refused() -> None:
    wire = Wire()
    calls = DirectCalls(wire.send)
    failures: list[BaseException] = []

    async def call() -> None:
        try:
            await calls.call(modern, "echo", {})
        except ConnectionEndedError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call)
        await wire.next()
        calls.end()
    assert len(failures) == 1
    with pytest.raises(ConnectionEndedError):
        await calls.call(modern, "echo", {})
    assert [m["method"] for m in wire.sent] == ["tools/call"]


def test_error_responses_are_read_even_when_malformed() -> None:
    error = error_of({"error": {"code": -32602, "message": "Unknown tool: x"}})
    assert error is not None
    assert (error.code, error.message) == (-32602, "Unknown tool: x")
    odd = error_of({"error": "boom"})
    assert odd is not None
    assert "boom" in odd.message
    assert error_of({"result": {}}) is None
