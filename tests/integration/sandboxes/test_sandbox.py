"""The hardened profile, stdio sessions, secrets, pools and clean-up, on real containers."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anyio
import docker
import pytest

from sandboxes.errors import SandboxTimeoutError
from sandboxes.images import ImageSpec
from sandboxes.manager import SandboxManager
from sandboxes.ownership import OWNER, PROCESS
from sandboxes.pool import WarmPool
from sandboxes.runtime import SandboxRuntime
from sandboxes.sandbox import SandboxSpec

Opener = Callable[[], AbstractAsyncContextManager[SandboxRuntime]]

pytestmark = pytest.mark.docker

CLOCK = ImageSpec("pypi", "switchboard-example-clock", "0.1.0")


async def clock_spec(runtime: SandboxRuntime, **changes: object) -> SandboxSpec:
    image = await anyio.to_thread.run_sync(runtime.builder.ensure, CLOCK)
    spec = SandboxSpec(image_id=image.image_id, command=image.command, name="clock")
    return SandboxSpec(**{**spec.__dict__, **changes})  # type: ignore[arg-type]


async def warm_pool(rt: SandboxRuntime, spec: SandboxSpec) -> WarmPool:
    """The clock's pool once its first warm sandbox is ready."""
    pool = rt.manager.pool("clock", lambda: spec)
    pool.refill()
    with anyio.fail_after(60):
        while pool.idle < 1:
            await anyio.sleep(0.05)
    return pool


async def test_hardened_profile_is_applied(
    runtime: Opener, docker_client: docker.DockerClient
) -> None:
    async with runtime() as rt:
        async with await rt.manager.start(await clock_spec(rt)) as sandbox:
            info = docker_client.api.inspect_container(sandbox.container_id)
        host = info["HostConfig"]
        assert info["Config"]["User"] == "10001:10001"
        assert host["CapDrop"] == ["ALL"]
        assert host["SecurityOpt"] == ["no-new-privileges:true"]
        assert host["ReadonlyRootfs"] is True
        assert "noexec" in host["Tmpfs"]["/tmp"]
        assert host["NetworkMode"] == "none"
        assert host["Privileged"] is False
        assert host["Init"] is True
        assert host["Memory"] == 256 * 1024 * 1024
        assert host["PidsLimit"] == 64
        assert host["NanoCpus"] == 1_000_000_000
        (bind,) = host["Binds"]  # the stdio socket's directory, and nothing else of the host's
        source, target, mode = bind.split(":")
        assert (target, mode) == ("/run/switchboard", "ro")
        assert not await anyio.Path(source).exists()  # removed once the server connected
        assert all(m["Type"] == "tmpfs" or not m["RW"] for m in info["Mounts"])


async def test_tools_list_and_call(runtime: Opener) -> None:
    async with runtime() as rt:
        async with await rt.manager.start(await clock_spec(rt)) as sandbox:
            tools = {tool.name for tool in await sandbox.list_tools()}
            assert {"current_time", "convert_time"} <= tools
            result = await sandbox.call_tool("current_time", {"timezone": "Asia/Tokyo"}, timeout=10)
        assert result.structured_content is not None
        assert result.structured_content["utc_offset"] == "+09:00"


async def test_secrets_reach_the_server_but_not_docker(
    runtime: Opener, docker_client: docker.DockerClient
) -> None:
    async with runtime() as rt:
        secret = "tok-" + os.urandom(8).hex()
        spec = await clock_spec(rt, secrets={"CLOCK_TOKEN": secret})
        async with await rt.manager.start(spec) as sandbox:
            info = docker_client.api.inspect_container(sandbox.container_id)
            top = docker_client.api.top(sandbox.container_id)
            assert await sandbox.list_tools()
        assert secret not in json.dumps(info)
        assert secret not in json.dumps(top)
        assert secret not in sandbox.log.tail()


async def test_warm_pool_serves_initialised_sandboxes(runtime: Opener) -> None:
    async with runtime() as rt:
        spec = await clock_spec(rt)
        pool = await warm_pool(rt, spec)
        warm = pool._idle[0]
        async with rt.manager.session("clock", lambda: spec) as sandbox:
            assert sandbox is warm
            assert await sandbox.list_tools()
        assert sandbox.broken  # a session's sandbox is never reused


async def test_crashed_idle_sandbox_is_replaced(
    runtime: Opener, docker_client: docker.DockerClient
) -> None:
    async with runtime() as rt:
        spec = await clock_spec(rt)
        pool = await warm_pool(rt, spec)
        dead = pool._idle[0]
        docker_client.api.kill(dead.container_id)
        with anyio.fail_after(10):
            while not dead.broken:
                await anyio.sleep(0.05)
        async with rt.manager.session("clock", lambda: spec) as sandbox:
            assert sandbox is not dead
            assert await sandbox.list_tools()


async def test_leftovers_of_dead_processes_are_removed_and_shutdown_cleans_up(
    owner: str, wheelhouse: Path, runtime: Opener, docker_client: docker.DockerClient
) -> None:
    async with runtime() as rt:
        spec = await clock_spec(rt)
        stray = docker_client.api.create_container(
            spec.image_id,
            labels={
                "dev.switchboard.managed": "true",
                "dev.switchboard.kind": "tool",
                OWNER: owner,
                PROCESS: f"{os.uname().nodename}:999999999",
            },
        )
        neighbour = docker_client.api.create_container(
            spec.image_id,
            labels={
                "dev.switchboard.managed": "true",
                "dev.switchboard.kind": "tool",
                OWNER: owner,
                PROCESS: f"{os.uname().nodename}:1",
            },
        )
        try:
            manager = SandboxManager(docker_client.api, owner=owner)
            async with manager.running():
                await manager.start(spec)
                await manager.start(spec)
                ids = {
                    c["Id"]
                    for c in docker_client.api.containers(
                        all=True, filters={"label": f"{OWNER}={owner}"}
                    )
                }
                assert stray["Id"] not in ids
                assert neighbour["Id"] in ids  # pid 1 is alive: not ours to remove
            left = docker_client.api.containers(all=True, filters={"label": f"{OWNER}={owner}"})
            assert [c["Id"] for c in left] == [neighbour["Id"]]
        finally:
            docker_client.api.remove_container(neighbour["Id"], force=True)


async def test_call_timeout_cancels_and_marks_broken(runtime: Opener) -> None:
    async with runtime() as rt, await rt.manager.start(await clock_spec(rt)) as sandbox:
        with pytest.raises(SandboxTimeoutError, match=r"did not answer within 0\.001 s"):
            await sandbox.call_tool("current_time", {"timezone": "UTC"}, timeout=0.001)
        assert sandbox.broken
