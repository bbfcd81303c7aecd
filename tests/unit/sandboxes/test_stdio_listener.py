"""The per-sandbox stdio socket on the host side, without Docker: what it leaves behind, who
may reach it, and how waiting for it ends."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import anyio
import pytest

from sandboxes.profile import RunProfile
from sandboxes.stdio_listener import MOUNT, SOCKET_NAME, SocketDirectory


def test_directories_are_private_and_nothing_is_left_behind() -> None:
    sockets = SocketDirectory()
    first, second = sockets.listener(), sockets.listener()
    parent = first.directory.parent
    assert second.directory.parent == parent != second.directory != first.directory
    assert stat.S_IMODE(parent.stat().st_mode) == 0o700  # other host users cannot enter
    assert stat.S_IMODE(first.directory.stat().st_mode) == 0o711  # the sandbox user may pass
    assert stat.S_IMODE((first.directory / SOCKET_NAME).stat().st_mode) == 0o666
    assert len(str(first.directory / SOCKET_NAME)) < 108  # a unix socket path's limit
    first.close()
    assert not first.directory.exists()
    second.close()
    parent.rmdir()  # as a temp-dir cleaner would, while the process sat idle
    third = sockets.listener()
    assert third.directory.parent.is_dir()
    third.close()
    sockets.remove()
    assert not third.directory.parent.exists()


async def test_accept_returns_the_connection_or_none_once_the_container_is_gone() -> None:
    sockets = SocketDirectory()
    try:
        listener = sockets.listener()
        gone = anyio.Event()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(listener.directory / SOCKET_NAME))
            with anyio.fail_after(5):
                connection = await listener.accept(gone)
            assert connection is not None
            connection.close()
        listener.close()
        waiting = sockets.listener()
        gone.set()
        with anyio.fail_after(5):
            assert await waiting.accept(gone) is None
        waiting.close()
    finally:
        sockets.remove()


class FakeDockerApi:
    def create_host_config(self, **config: object) -> dict[str, object]:
        return config


@pytest.mark.parametrize("with_socket", [True, False])
def test_the_run_profile_mounts_only_the_socket_directory_read_only(
    with_socket: bool, tmp_path: Path
) -> None:
    directory = tmp_path if with_socket else None
    arguments = RunProfile().create_arguments(
        FakeDockerApi(),
        "owner",
        "host:1",
        stdio_socket=directory,  # type: ignore[arg-type]
    )
    if with_socket:
        assert arguments["host_config"]["binds"] == {str(tmp_path): {"bind": MOUNT, "mode": "ro"}}
        assert arguments["environment"]["SB_STDIO_SOCKET"] == f"{MOUNT}/{SOCKET_NAME}"
        assert arguments["stdin_open"] is False
    else:
        assert arguments["host_config"]["binds"] is None
        assert "SB_STDIO_SOCKET" not in arguments["environment"]
        assert arguments["stdin_open"] is True
