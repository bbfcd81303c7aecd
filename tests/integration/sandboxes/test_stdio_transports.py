"""Both ways a sandboxed server's stdin and stdout reach Switchboard, on real containers.

`socket`: the image's `sb-entry` connects to a unix socket mounted into the container, and
Docker's attach stream carries the server's log only. `attach`: all three on the attach stream
(a remote engine, or Switchboard in a container of its own). Each behaves the same to callers.
"""

from __future__ import annotations

import io
import json
import os
import socket
import tempfile
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anyio
import docker
import pytest

from sandboxes.errors import SandboxCrashedError, SandboxStartError
from sandboxes.images import BuiltImage
from sandboxes.manager import SandboxManager
from sandboxes.ownership import OWNER
from sandboxes.sandbox import SandboxSpec
from sandboxes.stdio_listener import stdio_mode

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("stdio")]  # module fixtures

TIMEOUT = 20.0


@pytest.fixture(params=["socket", "attach"])
def transport(request: pytest.FixtureRequest) -> str:
    mode: str = request.param
    return mode


Running = Callable[[], AbstractAsyncContextManager[SandboxManager]]


@pytest.fixture
def running(docker_client: docker.DockerClient, owner: str, transport: str) -> Running:
    """Entered inside each test: its task group must be entered and left by the test's task."""
    return SandboxManager(docker_client.api, owner=owner, stdio=transport).running


def spec(image: BuiltImage, *arguments: str, **changes: object) -> SandboxSpec:
    values: dict[str, object] = {
        "image_id": image.image_id,
        "command": [*image.command, *arguments],
        "start_timeout": 30.0,
        "name": "hostile",
    }
    return SandboxSpec(**{**values, **changes})  # type: ignore[arg-type]


async def test_calls_are_answered_and_secrets_reach_only_the_server(
    running: Running, hostile_image: BuiltImage, docker_client: docker.DockerClient
) -> None:
    secret = "tok-" + os.urandom(8).hex()
    started = spec(hostile_image, secrets={"HOSTILE_TOKEN": secret})
    async with running() as manager, await manager.start(started) as sandbox:
        echoed = await sandbox.call_tool("echo", {"text": "hi"}, timeout=TIMEOUT)
        seen = await sandbox.call_tool(
            "read_host", {"paths": [], "canary": secret}, timeout=TIMEOUT
        )
        info = docker_client.api.inspect_container(sandbox.container_id)
    assert echoed.structured_content is not None
    assert echoed.structured_content["echo"] == "hi"
    assert seen.structured_content is not None
    assert any(path.endswith("/environ") for path in seen.structured_content["canary_found_in"])
    assert secret not in json.dumps(info)
    assert secret not in sandbox.log.tail()


async def test_a_crash_mid_call_is_reported_with_the_servers_last_words(
    running: Running, hostile_image: BuiltImage
) -> None:
    async with running() as manager, await manager.start(spec(hostile_image)) as sandbox:
        with pytest.raises(SandboxCrashedError) as crash:
            await sandbox.call_tool("exit_now", {}, timeout=TIMEOUT)
        assert sandbox.broken
    assert "hostile: the server stopped during tools/call exit_now" in str(crash.value)
    assert "hostile: exiting mid-call" in str(crash.value)


async def test_exiting_before_initialize_is_a_start_error_with_its_log(
    running: Running, hostile_image: BuiltImage
) -> None:
    async with running() as manager:
        with pytest.raises(SandboxStartError) as failed:
            await manager.start(spec(hostile_image, "--mode", "exit"))
    assert "the server exited before answering `initialize` (exit code 1)" in str(failed.value)
    assert "hostile: refusing to start (mode exit)" in failed.value.log


@pytest.fixture(scope="module")
def no_entry_image(hostile_image: BuiltImage, docker_client: docker.DockerClient) -> str:
    """The hostile image without `sb-entry`: its servers never connect to a stdio socket."""
    dockerfile = f'FROM {hostile_image.image_id}\nENTRYPOINT ["/usr/bin/tini", "--"]\n'
    image, _ = docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), labels={"dev.switchboard.test": "no-entry"}
    )
    return str(image.id)


@pytest.mark.parametrize("transport", ["socket"])
@pytest.mark.parametrize(
    ("command", "error", "log"),
    [
        (
            ["python3", "-c", "import time; time.sleep(60)"],
            "the server did not connect to its stdio socket within 3 s",
            "",
        ),
        (
            ["sh", "-c", "echo no socket for me >&2; exit 4"],
            "the server exited before connecting to its stdio socket (exit code 4)",
            "no socket for me",
        ),
    ],
    ids=["never-connects", "exits-first"],
)
async def test_a_server_that_does_not_connect_is_a_start_error_with_its_log(
    running: Running,
    no_entry_image: str,
    docker_client: docker.DockerClient,
    owner: str,
    command: list[str],
    error: str,
    log: str,
) -> None:
    unconnected = SandboxSpec(
        image_id=no_entry_image, command=command, start_timeout=3, name="unconnected"
    )
    async with running() as manager:
        with anyio.fail_after(20), pytest.raises(SandboxStartError) as failed:
            await manager.start(unconnected)
    assert str(failed.value).startswith(f"unconnected: {error}")
    assert log in failed.value.log
    mine = {"ancestor": no_entry_image, "label": f"{OWNER}={owner}"}  # not a parallel test's
    assert not docker_client.api.containers(all=True, filters=mine)


def test_auto_picks_the_socket_only_where_the_engine_shares_our_files(
    hostile_image: BuiltImage, docker_client: docker.DockerClient
) -> None:
    assert stdio_mode("attach") == "attach"
    assert stdio_mode("socket") == "socket"
    assert stdio_mode("auto", "tcp://docker.example:2376") == "attach"
    assert stdio_mode("auto", "unix:///nonexistent/docker.sock") == "attach"
    with tempfile.TemporaryDirectory(prefix="sb-auto-") as directory:
        ours = Path(directory, "ours.sock")
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(str(ours))
            listener.listen(1)
            assert stdio_mode("auto", f"unix://{ours}") == "socket"
        # An "engine" in a container of its own: it does not see this process's files.
        Path(directory).chmod(0o777)
        container = docker_client.containers.run(
            hostile_image.image_id,
            entrypoint=["python3", "-c"],
            command=[
                "import socket, time; s = socket.socket(socket.AF_UNIX); "
                "s.bind('/x/theirs.sock'); s.listen(1); time.sleep(60)"
            ],
            volumes={directory: {"bind": "/x", "mode": "rw"}},
            network_mode="none",
            detach=True,
        )
        try:
            theirs = Path(directory, "theirs.sock")
            for _ in range(200):
                if theirs.exists():
                    break
                container.reload()
                assert container.status != "exited", container.logs()
                anyio.run(anyio.sleep, 0.05)
            assert stdio_mode("auto", f"unix://{theirs}") == "attach"
        finally:
            container.remove(force=True)
