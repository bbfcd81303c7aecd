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
    """This process's private directory of per-sandbox socket directories."""

    def __init__(self) -> None:
        self._path: Path | None = None

    def listener(self) -> StdioListener:
        # Made again if a temp-dir cleaner removed it while this process sat idle for days.
        if self._path is None or not self._path.is_dir():
            # Short on purpose: a unix socket's path may not exceed 107 bytes.
            self._path = Path(tempfile.mkdtemp(prefix="switchboard-stdio-"))
        return StdioListener.open(self._path)

    def remove(self) -> None:
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None


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
