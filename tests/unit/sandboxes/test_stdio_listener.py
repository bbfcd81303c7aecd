"""The per-sandbox stdio socket on the host side, without Docker: what it leaves behind, who
may reach it, and how waiting for it ends."""

from __future__ import annotations

import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from sandboxes.profile import RunProfile
from sandboxes.stdio_listener import (
    DIRECTORY_PREFIX,
    MOUNT,
    SOCKET_NAME,
    SocketDirectory,
    remove_abandoned,
)


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
    shutil.rmtree(parent)  # as a temp-dir cleaner would, while the process sat idle
    third = sockets.listener()
    assert third.directory.parent.is_dir()
    third.close()
    sockets.remove()
    assert not third.directory.parent.exists()


OWNER = """
import sys
from pathlib import Path
from sandboxes.stdio_listener import SocketDirectory
listener = SocketDirectory(Path(sys.argv[1])).listener()
print(listener.directory, flush=True)
sys.stdin.read()
"""


@contextmanager
def owner(parent: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A process with a socket directory under `parent` (and a listener in it), until killed."""
    with subprocess.Popen(
        [sys.executable, "-c", OWNER, str(parent)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[3],
    ) as process:
        try:
            assert process.stdout is not None
            yield process, Path(process.stdout.readline().strip()).parent
        finally:
            process.kill()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """pytest's `tmp_path` is too long for a unix socket's path."""
    path = Path(tempfile.mkdtemp(prefix="sb-"))
    yield path
    shutil.rmtree(path)


def test_directories_of_killed_processes_are_removed_and_live_ones_kept(short_tmp: Path) -> None:
    older = short_tmp / f"{DIRECTORY_PREFIX}older"
    older.mkdir()  # made by a version without the lock: not ours to judge
    with owner(short_tmp) as (killed, abandoned), owner(short_tmp) as (_, alive):
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert abandoned.is_dir(), "SIGKILL leaves the directory behind"
        sockets = SocketDirectory(short_tmp)
        try:
            mine = sockets.listener()
            assert not abandoned.exists()
            assert alive.is_dir()
            assert remove_abandoned(short_tmp) == [], "this process's own lock is held"
            assert mine.directory.is_dir()
            mine.close()
        finally:
            sockets.remove()
    assert older.is_dir()
    assert remove_abandoned(short_tmp) == [alive], "the other owner has ended too"
    assert sorted(p.name for p in short_tmp.iterdir()) == [older.name]


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
    with_socket: bool, short_tmp: Path
) -> None:
    directory = short_tmp if with_socket else None
    arguments = RunProfile().create_arguments(
        FakeDockerApi(),
        "owner",
        "host:1",
        stdio_socket=directory,  # type: ignore[arg-type]
    )
    if with_socket:
        assert arguments["host_config"]["binds"] == {str(short_tmp): {"bind": MOUNT, "mode": "ro"}}
        assert arguments["environment"]["SB_STDIO_SOCKET"] == f"{MOUNT}/{SOCKET_NAME}"
        assert arguments["stdin_open"] is False
    else:
        assert arguments["host_config"]["binds"] is None
        assert "SB_STDIO_SOCKET" not in arguments["environment"]
        assert arguments["stdin_open"] is True
