"""The tasks extension (SEP-2663) through the real `/mcp`, with the conformance fixture in a real
sandbox: a task's id is a handle only its caller can use, every request about it reaches the
sandbox that runs it, that sandbox outlives its idle time while the task may be reached, a task
whose sandbox dies is failed, and each step is audited."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import docker
import httpx2
import mcp_types as types
import pytest
from sqlmodel import col, select

from registry.models import Role
from sandboxes.ownership import OWNER
from sandboxes.tasks import TASKS_EXTENSION
from switchboard.audit.models import AuditRecord
from tests.conftest import user_with_token
from tests.integration.toolhost.conftest import Hosted, HostedFactory, publish_and_approve

pytestmark = pytest.mark.docker

FIXTURE = Path(__file__).parents[2] / "fixtures" / "conformance_server"
PROTOCOL = "2026-07-28"
TAKES_TASKS: dict[str, Any] = {"elicitation": {}, "extensions": {TASKS_EXTENSION: {}}}
_ids = itertools.count(1)


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.code = error.get("code")
        self.data = error.get("data")


class Caller:
    """A 2026-07-28 client on the raw wire, so a test can set any header and declare tasks."""

    def __init__(self, http: httpx2.AsyncClient, url: str, capabilities: dict[str, Any]) -> None:
        self.http = http
        self.url = url
        self.capabilities = capabilities

    async def __call__(
        self, method: str, params: dict[str, Any], *, name: str | None = None
    ) -> dict[str, Any]:
        headers = {
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": PROTOCOL,
            "Mcp-Method": method,
        }
        named = name if name is not None else params.get("taskId", params.get("name"))
        if named is not None:
            headers["Mcp-Name"] = named
        meta = {
            "io.modelcontextprotocol/protocolVersion": PROTOCOL,
            "io.modelcontextprotocol/clientCapabilities": self.capabilities,
            "io.modelcontextprotocol/clientInfo": {"name": "tasks-test", "version": "1"},
        }
        body = {
            "jsonrpc": "2.0",
            "id": next(_ids),
            "method": method,
            "params": {**params, "_meta": meta},
        }
        response = await self.http.post(self.url, json=body, headers=headers)
        message = _answer(response.headers.get("content-type", ""), response.text, body["id"])
        if "error" in message:
            raise RpcError(message["error"])
        result: dict[str, Any] = message["result"]
        return result

    async def settled(self, task_id: str, status: str | None = None) -> dict[str, Any]:
        """`tasks/get` until the task ends (or reaches `status`)."""
        with anyio.fail_after(30):
            while True:
                task = await self("tasks/get", {"taskId": task_id})
                if task["status"] in {"completed", "failed", "cancelled", status}:
                    return task
                await anyio.sleep(0.1)


def _answer(content_type: str, text: str, request_id: int) -> dict[str, Any]:
    if "text/event-stream" not in content_type:
        answer: dict[str, Any] = json.loads(text)
        return answer
    for line in text.splitlines():
        if line.startswith("data:"):
            message = json.loads(line.removeprefix("data:"))
            if message.get("id") == request_id:
                return dict(message)
    raise AssertionError(f"no answer to request {request_id} in {text!r}")


@asynccontextmanager
async def caller(world: Hosted, token: str, capabilities: dict[str, Any]) -> AsyncIterator[Caller]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        yield Caller(http, world.server.mcp_url, capabilities)


async def refusal(call: Any) -> RpcError:
    with pytest.raises(RpcError) as refused:
        await call
    return refused.value


async def with_the_fixture(world: Hosted) -> None:
    manifest = json.loads((FIXTURE / "server.json").read_text())
    slug = await publish_and_approve(world.admin, manifest)
    team = world.server.services.settings.default_team
    granted = await world.admin.put(f"/api/v1/grants/{team}/{slug}", json={"scopes": ["*"]})
    assert granted.status_code == 200, granted.text


def kill_sandboxes(world: Hosted) -> int:
    client = docker.from_env()
    owner = f"{OWNER}={world.server.services.settings.sandbox_owner}"
    running = client.containers.list(filters={"label": owner})
    for container in running:
        container.kill()
    return len(running)


async def audited(world: Hosted) -> list[tuple[str, str, str | None]]:
    async with world.server.services.sessions() as session:
        rows = await session.exec(
            select(AuditRecord)
            .where(
                col(AuditRecord.action).in_(["tool.call", "task.update", "task.cancel", "task.end"])
            )
            .order_by(col(AuditRecord.seq))
        )
        return [(r.action, r.outcome, (r.detail or {}).get("tool")) for r in rows]


async def test_tasks_reach_their_sandbox_for_their_caller_only(hosted: HostedFactory) -> None:
    async with hosted(sandbox_idle_seconds=1) as world:
        await with_the_fixture(world)
        eve_token = await user_with_token(world.server.services, "eve", Role.developer, ["mcp"])
        async with (
            caller(world, world.token, TAKES_TASKS) as dana,
            caller(world, eve_token, TAKES_TASKS) as eve,
            caller(world, world.token, {}) as undeclared,
        ):
            created = await dana(
                "tools/call",
                {"name": "conformance-fixture.slow_compute", "arguments": {"seconds": 7}},
            )
            assert created["resultType"] == "task", created
            handle = created["taskId"]
            assert handle.startswith("sbt1.")
            assert "task-" not in handle, "the server's id is sealed"
            assert 0 < created["ttlMs"] <= 3600 * 1000
            assert created["status"] == "working"
            assert (await dana("tasks/get", {"taskId": handle}))["taskId"] == handle

            for refused, code in (
                (eve("tasks/get", {"taskId": handle}), types.INVALID_PARAMS),
                (dana("tasks/get", {"taskId": handle[:-3] + "AAA"}), types.INVALID_PARAMS),
                (dana("tasks/get", {"taskId": handle}, name="another"), types.HEADER_MISMATCH),
                (
                    undeclared("tasks/get", {"taskId": handle}),
                    types.MISSING_REQUIRED_CLIENT_CAPABILITY,
                ),
                (eve("tasks/cancel", {"taskId": handle}), types.INVALID_PARAMS),
            ):
                assert (await refusal(refused)).code == code

            asked = await dana(
                "tools/call",
                {"name": "conformance-fixture.confirm_delete", "arguments": {"filename": "a.txt"}},
            )
            waiting = await dana.settled(asked["taskId"], "input_required")
            assert waiting["status"] == "input_required", waiting
            (key,) = waiting["inputRequests"]
            assert waiting["inputRequests"][key]["method"] == "elicitation/create"
            answer = {key: {"action": "accept", "content": {"confirm": True}}}
            ack = await dana("tasks/update", {"taskId": asked["taskId"], "inputResponses": answer})
            assert ack == {"resultType": "complete", "_meta": ack.get("_meta")}
            deleted = await dana.settled(asked["taskId"])
            assert deleted["status"] == "completed"
            assert deleted["result"]["content"][0]["text"] == "Deleted a.txt."

            doomed = await dana(
                "tools/call",
                {"name": "conformance-fixture.slow_compute", "arguments": {"seconds": 60}},
            )
            await dana("tasks/cancel", {"taskId": doomed["taskId"]})
            assert (await dana.settled(doomed["taskId"]))["status"] == "cancelled"

            # The first task outlived the sandbox's idle second, and the reaper's rounds (5 s).
            done = await dana.settled(handle)
            assert done["status"] == "completed", done
            assert done["result"]["content"][0]["text"] == "Computed computation in 7 s."

            orphan = await dana(
                "tools/call",
                {"name": "conformance-fixture.slow_compute", "arguments": {"seconds": 60}},
            )
            assert kill_sandboxes(world) >= 1
            lost = await dana.settled(orphan["taskId"])
            assert lost["status"] == "failed", lost
            assert "stopped" in lost["error"]["message"]
            assert "result" not in lost
            assert (await dana("tasks/cancel", {"taskId": orphan["taskId"]}))[
                "resultType"
            ] == "complete"

            again = await dana(
                "tools/call", {"name": "conformance-fixture.greet", "arguments": {"name": "Ada"}}
            )
            assert again["content"][0]["text"] == "Hello, Ada!", "a new sandbox takes over"

        slow, confirm, greet = ("slow_compute", "confirm_delete", "greet")
        assert await audited(world) == [
            ("tool.call", "task", slow),
            ("tool.call", "task", confirm),
            ("task.update", "ok", confirm),
            ("task.end", "ok", confirm),
            ("tool.call", "task", slow),
            ("task.cancel", "ok", slow),
            ("task.end", "cancelled", slow),
            ("task.end", "ok", slow),
            ("tool.call", "task", slow),
            ("task.end", "error", slow),
            ("task.cancel", "lost", slow),
            ("tool.call", "ok", greet),
        ]
