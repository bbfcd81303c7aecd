"""The sandboxes of one Switchboard process: started, pooled, tracked and cleaned up.

Every container carries the owner label of this deployment, so on start-up the manager removes
whatever a previous run left behind, and on shutdown it removes everything it started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup

from sandboxes.errors import SandboxError
from sandboxes.ownership import OWNER, left_behind
from sandboxes.pool import WarmPool
from sandboxes.profile import KIND, MANAGED
from sandboxes.removal import remove_container
from sandboxes.sandbox import Sandbox, SandboxSpec, start_sandbox
from sandboxes.stdio_listener import SocketDirectory, StdioTransport

EXPIRY_INTERVAL = 5.0


class SandboxManager:
    def __init__(
        self,
        docker: Any,
        *,
        owner: str,
        pool_size: int = 1,
        idle_timeout: float = 600.0,
        max_lifetime: float = 3600.0,
        stdio: StdioTransport = "socket",
        expiry_interval: float = EXPIRY_INTERVAL,
    ) -> None:
        """`stdio` is `socket` or `attach` (`sandboxes.stdio_listener.stdio_mode`).
        Every `expiry_interval` seconds, idle sandboxes past their time and broken ones are
        removed."""
        if stdio not in ("socket", "attach"):
            raise ValueError(f"stdio must be 'socket' or 'attach', not {stdio!r}")
        self.docker = docker
        self.owner = owner
        self.pool_size = pool_size
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.expiry_interval = expiry_interval
        self._pools: dict[str, WarmPool] = {}
        self._live: set[Sandbox] = set()
        self._tasks: TaskGroup | None = None
        self._sockets = SocketDirectory() if stdio == "socket" else None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SandboxManager]:
        await anyio.to_thread.run_sync(self.remove_leftovers)
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            tasks.start_soon(self._expire_forever)
            try:
                yield self
            finally:
                with anyio.CancelScope(shield=True):
                    await self.close_all()
                    if self._sockets is not None:
                        await anyio.to_thread.run_sync(self._sockets.remove)
                tasks.cancel_scope.cancel()
                self._tasks = None

    def remove_leftovers(self) -> int:
        """Remove this deployment's containers whose process on this host is gone.

        Containers of live processes (a server next to a CLI command) and of other hosts
        sharing the engine are theirs to manage.
        """
        owned = self.docker.containers(
            all=True,
            filters={"label": [f"{MANAGED}=true", f"{KIND}=tool", f"{OWNER}={self.owner}"]},
        )
        removed = 0
        for container in owned:
            if left_behind(container.get("Labels")):
                remove_container(self.docker, container["Id"])
                removed += 1
        return removed

    async def start(self, spec: SandboxSpec) -> Sandbox:
        if self._tasks is None:
            raise SandboxError(
                "the sandbox manager is not running; use `async with manager.running()`"
            )
        sandbox = await start_sandbox(
            self.docker, spec, owner=self.owner, tasks=self._tasks, sockets=self._sockets
        )
        self._live.add(sandbox)
        return sandbox

    def pool(self, key: str, spec: Callable[[], SandboxSpec]) -> WarmPool:
        """The warm pool of one server version, created on first use."""
        if self._tasks is None:
            raise SandboxError("the sandbox manager is not running")
        if key not in self._pools:
            self._pools[key] = WarmPool(
                lambda: self.start(spec()),
                tasks=self._tasks,
                size=self.pool_size,
                idle_timeout=self.idle_timeout,
                max_lifetime=self.max_lifetime,
            )
        return self._pools[key]

    def pool_sizes(self) -> dict[str, int]:
        """Idle warm sandboxes per pool key."""
        return {key: pool.idle for key, pool in self._pools.items()}

    @asynccontextmanager
    async def session(self, key: str, spec: Callable[[], SandboxSpec]) -> AsyncIterator[Sandbox]:
        """A sandbox for one client session, from the warm pool; discarded afterwards."""
        sandbox = await self.pool(key, spec).acquire()
        try:
            yield sandbox
        finally:
            await self.discard(sandbox)

    async def discard(self, sandbox: Sandbox) -> None:
        self._live.discard(sandbox)
        await sandbox.close()

    async def drop_pool(self, key: str) -> None:
        pool = self._pools.pop(key, None)
        if pool is not None:
            await pool.close()

    async def close_all(self) -> None:
        for key in list(self._pools):
            await self.drop_pool(key)
        for sandbox in list(self._live):
            await self.discard(sandbox)

    async def _expire_forever(self) -> None:
        while True:
            await anyio.sleep(self.expiry_interval)
            for pool in list(self._pools.values()):
                await pool.expire()
            for sandbox in [s for s in self._live if s.broken]:
                await self.discard(sandbox)
