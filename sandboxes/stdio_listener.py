"""The unix socket a sandboxed server's stdin and stdout are connected to.

Docker's attach stream costs dockerd a copy of every message each way, which at a few thousand
calls a second is a large share of the machine. Instead, each sandbox gets a fresh host
directory holding one listening socket, mounted read-only into the container; the image's
entrypoint (`sb-entry`) connects to it before it reads the secrets line, so the secrets never
pass through dockerd either. Once the server connected, the socket and its directory are
removed. The directories live in a 0700 directory of this process, which other host users
cannot enter; inside, the sandbox user may connect but not write.

Bind-mount sources are the engine's paths, so this works only where the engine sees this
process's files: `stdio_mode` picks Docker's attach stream otherwise (a remote engine, or a
host's engine used from Switchboard's own container).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import struct
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Literal

import anyio

StdioMode = Literal["auto", "socket", "attach"]
StdioTransport = Literal["socket", "attach"]
"""What `auto` resolves to: the transport a sandbox manager uses."""
MOUNT = "/run/switchboard"
"""Where the socket's directory appears inside the container (read-only)."""
SOCKET_NAME = "stdio.sock"
DIRECTORY_PREFIX = "switchboard-stdio-"
LOCK_NAME = "owner.lock"
"""Held locked by the process that made the directory (`SocketDirectory`)."""
SOCKET_VARIABLE = "SB_STDIO_SOCKET"
"""Tells `sb-entry` which socket to connect to."""


def stdio_mode(mode: StdioMode, docker_host: str | None = None) -> StdioTransport:
    """`socket` or `attach`: what `auto` means for this engine and this process.

    A socket works when the engine sees this process's files at the same paths. That is
    checked, not guessed from `/.dockerenv`: Docker must be reached on a unix socket, its
    process must be visible here (a host engine's socket mounted into Switchboard's container
    has no process in Switchboard's PID namespace), and where its root directory can be
    compared, it must be ours. `docker_host` defaults to `DOCKER_HOST`, as for the SDK.
    """
    if mode != "auto":
        return mode
    host = docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        return "attach"
    return "socket" if _engine_shares_our_files(host.removeprefix("unix://")) else "attach"


def _engine_shares_our_files(engine_socket: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(engine_socket)
            credentials = probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        except OSError:
            return False
    pid = struct.unpack("3i", credentials)[0]
    if pid <= 0:
        return False
    try:
        theirs, ours = os.stat(f"/proc/{pid}/root"), os.stat("/")
    except OSError:
        return True
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


class SocketDirectory:
    """This process's private directory of per-sandbox socket directories.

    It holds an exclusive `flock` on a file inside for as long as the process lives; the kernel
    drops it however the process ends, SIGKILL included. A directory whose lock another process
    can take was left by a process that is gone, and the next one to make its own removes it.
    """

    def __init__(self, parent: Path | None = None) -> None:
        """`parent` is where the directory is made: the temp dir unless a test says otherwise."""
        self._parent = parent
        self._path: Path | None = None
        self._lock: int | None = None

    def listener(self) -> StdioListener:
        # Made again if a temp-dir cleaner removed it while this process sat idle for days.
        if self._path is None or not self._path.is_dir():
            self._release()
            self._path, self._lock = _claimed_directory(self._parent)
            remove_abandoned(self._parent)
        return StdioListener.open(self._path)

    def remove(self) -> None:
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def _claimed_directory(parent: Path | None) -> tuple[Path, int]:
    """A new directory and the descriptor of its held lock. The lock file gets its name only
    once locked, so no other process ever finds it unlocked while its owner lives."""
    # Short on purpose: a unix socket's path may not exceed 107 bytes.
    path = Path(tempfile.mkdtemp(prefix=DIRECTORY_PREFIX, dir=parent))
    making = path / f"{LOCK_NAME}.new"
    lock = os.open(making, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        making.rename(path / LOCK_NAME)
    except BaseException:
        os.close(lock)
        shutil.rmtree(path, ignore_errors=True)
        raise
    return path, lock


def remove_abandoned(parent: Path | None = None) -> list[Path]:
    """Remove the socket directories whose process is gone; the ones removed.

    Skipped: directories of other host users (this user cannot open their lock), of processes
    still running (their lock is held), and those without a lock file, which are being made
    or are older than the lock.
    """
    removed = []
    for path in Path(parent or tempfile.gettempdir()).glob(f"{DIRECTORY_PREFIX}*"):
        try:
            lock = os.open(path / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue
        else:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(lock)
    return removed


class StdioListener:
    """One sandbox's listening socket, in a directory of its own, until the server connects."""

    def __init__(self, directory: Path, sock: socket.socket) -> None:
        self.directory = directory
        self._sock = sock

    @classmethod
    def open(cls, parent: Path) -> StdioListener:
        directory = Path(tempfile.mkdtemp(dir=parent))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            directory.chmod(0o711)
            path = directory / SOCKET_NAME
            sock.bind(str(path))
            path.chmod(0o666)
            sock.listen(1)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return cls(directory, sock)

    async def accept(self, gone: anyio.Event) -> socket.socket | None:
        """The server's connection, or `None` if `gone` is set first (the container ended)."""
        connection: socket.socket | None = None

        async def wait_gone() -> None:
            await gone.wait()
            tasks.cancel_scope.cancel()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(wait_gone)
            while connection is None:
                await anyio.wait_readable(self._sock)
                with suppress(BlockingIOError):
                    connection, _ = self._sock.accept()
            tasks.cancel_scope.cancel()
        return connection

    def close(self) -> None:
        """No second connection can be made, and nothing is left on the host."""
        self._sock.close()
        with suppress(FileNotFoundError):
            os.unlink(self.directory / SOCKET_NAME)
        shutil.rmtree(self.directory, ignore_errors=True)
