"""The router's share per caller: leases, and starts still under way, count against it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio
import mcp_types as types
import pytest
from anyio.abc import TaskGroup

from registry.tooldefs import definitions_digest
from sandboxes.runtime import Launch, SandboxRuntime
from toolhost import routing
from toolhost.hosted import HostedVersion
from toolhost.remotes import RemoteConnector
from toolhost.routing import LeaseOwner, SandboxRouter, TaskLostError, TooManyLeasesError


class StubServer:
    """A remote tool server that lists no tools (the digest the stub versions approve)."""

    client = None
    peer = None
    broken = False

    def __init__(self) -> None:
        self.closed = False

    async def settled(self) -> None:
        return None

    async def list_tools(self) -> list[types.Tool]:
        return []

    async def close(self) -> None:
        self.closed = True


class StubRemotes:
    def __init__(self) -> None:
        self.started: list[StubServer] = []
        self.gate = anyio.Event()
        self.gate.set()

    async def connect(self, _target: Launch, _tasks: TaskGroup) -> StubServer:
        await self.gate.wait()
        server = StubServer()
        self.started.append(server)
        return server


def version(version_id: int) -> HostedVersion:
    return HostedVersion(
        version_id=version_id,
        server_id=version_id,
        server_name=f"com.example/remote{version_id}",
        slug=f"remote{version_id}",
        kind="mcp",
        version="1.0.0",
        document={"remotes": [{"type": "streamable-http", "url": "https://example.com/mcp"}]},
        policy={},
        digest=definitions_digest([]),
        tools={},
        status="approved",
    )


@asynccontextmanager
async def running_router(
    per_caller: int, idle_seconds: float = 600
) -> AsyncIterator[tuple[SandboxRouter, StubRemotes]]:
    remotes = StubRemotes()

    async def no_runtime() -> SandboxRuntime:
        raise AssertionError("remote versions need no sandbox runtime")

    async def launch(hosted: HostedVersion) -> Launch:
        return Launch(key=f"v{hosted.version_id}", name=hosted.server_name, document={}, policy={})

    async def no_mismatch(_hosted: HostedVersion, _observed: Any) -> None:
        raise AssertionError("the stub lists exactly the approved tools")

    router = SandboxRouter(
        no_runtime,
        launch,
        no_mismatch,
        remotes=cast(RemoteConnector, remotes),
        idle_seconds=idle_seconds,
        per_caller=per_caller,
    )
    async with router.running():
        yield router, remotes


async def call(router: SandboxRouter, version_id: int, owner: LeaseOwner) -> None:
    async with router.lease(version(version_id), owner):
        pass


async def test_a_caller_over_their_share_is_refused_with_the_setting_named() -> None:
    async with running_router(per_caller=2) as (router, remotes):
        await call(router, 1, LeaseOwner("mallory", "s1"))
        await call(router, 1, LeaseOwner("mallory", "s2"))
        await call(router, 1, LeaseOwner("mallory", "s2"))
        with pytest.raises(TooManyLeasesError, match="SWITCHBOARD_SANDBOX_LEASES_PER_CALLER"):
            await call(router, 2, LeaseOwner("mallory", "s1"))
        await call(router, 1, LeaseOwner("erin"))
        assert len(remotes.started) == 3

        await router.end_owner(LeaseOwner("mallory", "s1"))
        assert remotes.started[0].closed
        await call(router, 2, LeaseOwner("mallory", "s1"))
        assert router.pool_sizes()["leased"] == 3


async def test_starts_under_way_count_against_the_share() -> None:
    async with running_router(per_caller=1) as (router, remotes):
        remotes.gate = anyio.Event()
        refused: list[BaseException] = []

        async def try_call(session: str) -> None:
            try:
                await call(router, 1, LeaseOwner("mallory", session))
            except TooManyLeasesError as exc:
                refused.append(exc)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(try_call, "s1")
            tasks.start_soon(try_call, "s2")
            await anyio.wait_all_tasks_blocked()
            remotes.gate.set()
        assert len(remotes.started) == 1
        assert len(refused) == 1


async def test_a_lease_running_a_task_outlives_its_idle_time_and_only_it_is_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(routing, "REAP_INTERVAL", 0.02)
    async with running_router(per_caller=4, idle_seconds=0.05) as (router, remotes):
        dana = LeaseOwner("dana")
        async with router.lease(version(1), dana) as (server, _):
            serial = router.keep(version(1), dana, server, 0.6)
        await call(router, 2, dana)
        await anyio.sleep(0.3)
        assert remotes.started[1].closed, "an idle lease without tasks stops"
        assert not remotes.started[0].closed, "the task's lease is kept though idle"
        async with router.holding(version(1), dana, serial) as held:
            assert held is server
        for owner, named in ((dana, serial + "0"), (LeaseOwner("eve"), serial)):
            with pytest.raises(TaskLostError, match="has stopped"):
                async with router.holding(version(1), owner, named):
                    pass
        assert router.started_here(serial)
        assert not router.started_here("0badc0de-1"), "another process's lease"

        await anyio.sleep(0.8)
        assert remotes.started[0].closed, "kept only as long as asked"
        with pytest.raises(TaskLostError):
            async with router.holding(version(1), dana, serial):
                pass
