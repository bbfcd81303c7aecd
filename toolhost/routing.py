"""Which sandbox runs a call: one lease per (server version, MCP session or caller).

A stdio tool server keeps state per client, so two callers never share one: each MCP session
(or, on the stateless protocol, each caller) gets its own sandbox from the version's warm pool,
keeps it while it is in use, and gives it up after `idle_seconds` without calls or when its
session ends; a lease whose sandbox runs a task (`toolhost.tasks`) is kept, idle or not, for as
long as the task may be reached. Concurrent calls on one lease share its single stdio session;
JSON-RPC multiplexes them. One caller holds at most `per_caller` leases at once, across their
sessions.

A version with no package but a remote gets a connection to that remote per lease instead
(`toolhost.remotes`), with its own credentials, never the caller's.

Every sandbox or connection is checked when its lease starts: its `tools/list` must digest to
what the reviewer approved, or the version is quarantined and no call reaches it.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskGroup

from registry.tooldefs import ToolDefinition, definitions_digest
from sandboxes.errors import SandboxError
from sandboxes.runtime import Launch, SandboxRuntime
from sandboxes.sandbox import Sandbox, SandboxSpec
from toolhost.hosted import HostedVersion
from toolhost.remotes import RemoteConnector, is_remote
from toolhost.toolserver import ToolServer

logger = logging.getLogger(__name__)

LaunchFor = Callable[[HostedVersion], Awaitable[Launch]]
RuntimeSource = Callable[[], Awaitable[SandboxRuntime]]
OnMismatch = Callable[[HostedVersion, list[ToolDefinition]], Awaitable[None]]
REAP_INTERVAL = 5.0


class ToolUnavailableError(SandboxError):
    """No sandbox can run this version now; the message says why and what to do."""


class QuarantinedError(ToolUnavailableError):
    """The version's running server no longer matches its review."""


class TooManyLeasesError(ToolUnavailableError):
    """The caller already holds as many sandboxes as one caller may."""


@dataclass(frozen=True)
class LeaseOwner:
    """Whom a lease serves: a caller, on one of their handshake-era MCP sessions or (without
    one, as on 2026-07-28) on their own."""

    caller: str
    session: str | None = None


@dataclass(eq=False)
class Lease:
    sandbox: ToolServer
    serial: str
    """Names this lease, and so its sandbox, among every lease this process ever held."""
    last_used: float = field(default_factory=time.monotonic)
    active: int = 0
    kept_until: float = 0.0
    """Not idle before then: a task the sandbox runs must stay reachable for its lifetime."""


class TaskLostError(ToolUnavailableError):
    """The sandbox that ran a task is gone, and the task with it."""


class SandboxRouter:
    def __init__(
        self,
        runtime: RuntimeSource,
        launch_for: LaunchFor,
        on_mismatch: OnMismatch,
        *,
        remotes: RemoteConnector,
        idle_seconds: float,
        per_caller: int,
    ) -> None:
        self._runtime_source = runtime
        self._runtime: SandboxRuntime | None = None
        self._launch_for = launch_for
        self._on_mismatch = on_mismatch
        self._remotes = remotes
        self._tasks: TaskGroup | None = None
        self._idle_seconds = idle_seconds
        self._per_caller = per_caller
        self._held: Counter[str] = Counter()
        """Caller -> their leases, and those being started (so concurrent starts count)."""
        self._specs: dict[int, SandboxSpec] = {}
        self._leases: dict[tuple[int, LeaseOwner], Lease] = {}
        self._locks: dict[tuple[int, LeaseOwner], anyio.Lock] = {}
        self._spec_locks: dict[int, anyio.Lock] = {}
        self._serials = itertools.count(1)
        self._boot = secrets.token_hex(4)
        self.quarantined: set[int] = set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SandboxRouter]:
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            tasks.start_soon(self._reap_forever)
            try:
                yield self
            finally:
                tasks.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    for lease in list(self._leases.values()):
                        await self._release(lease)
                    self._leases.clear()
                    self._held.clear()

    def pool_sizes(self) -> dict[str, int]:
        """Idle warm sandboxes per pool, and leased ones, for the metrics endpoint."""
        sizes = {"leased": len(self._leases)}
        if self._runtime is not None:
            sizes.update(self._runtime.manager.pool_sizes())
        return sizes

    @asynccontextmanager
    async def lease(
        self, hosted: HostedVersion, owner: LeaseOwner
    ) -> AsyncIterator[tuple[ToolServer, bool]]:
        """The sandbox (or remote connection) `owner` uses for `hosted`, and whether this call
        started its lease."""
        if hosted.status == "quarantined" or hosted.version_id in self.quarantined:
            raise QuarantinedError(quarantine_message(hosted.label))
        key = (hosted.version_id, owner)
        lease, started = self._leases.get(key), False
        if lease is not None:
            await lease.sandbox.settled()
        if lease is None or lease.sandbox.broken:
            lock = self._locks.setdefault(key, anyio.Lock())
            async with lock:
                lease = self._leases.get(key)
                if lease is None or lease.sandbox.broken:
                    if lease is not None:
                        await self._drop(key, lease)
                    sandbox = await self._start_for(owner.caller, hosted)
                    lease = Lease(sandbox, f"{self._boot}-{next(self._serials)}")
                    self._leases[key] = lease
                    started = True
        async with self._using(key, lease) as sandbox:
            yield sandbox, started

    def keep(
        self, hosted: HostedVersion, owner: LeaseOwner, sandbox: ToolServer, for_s: float
    ) -> str:
        """Keep `owner`'s lease of `sandbox` (which just created a task) at least `for_s`
        seconds, and name it for `holding`."""
        lease = self._leases.get((hosted.version_id, owner))
        if lease is None or lease.sandbox is not sandbox:
            raise TaskLostError(f"{hosted.label}: the server stopped as it created the task")
        lease.kept_until = max(lease.kept_until, time.monotonic() + for_s)
        return lease.serial

    def started_here(self, serial: str) -> bool:
        """Whether the lease `serial` names was started by this router (not before a restart,
        nor by another replica)."""
        return serial.startswith(f"{self._boot}-")

    @asynccontextmanager
    async def holding(
        self, hosted: HostedVersion, owner: LeaseOwner, serial: str
    ) -> AsyncIterator[ToolServer]:
        """The sandbox of `owner`'s lease `serial`, if it still runs; never a new one."""
        key = (hosted.version_id, owner)
        lease = self._leases.get(key)
        if lease is None or lease.serial != serial or lease.sandbox.broken:
            raise TaskLostError(f"{hosted.label}: the server running the task has stopped")
        async with self._using(key, lease) as sandbox:
            yield sandbox

    @asynccontextmanager
    async def _using(self, key: tuple[int, LeaseOwner], lease: Lease) -> AsyncIterator[ToolServer]:
        """`lease` in use (so not idle) for the block; a sandbox that broke in it is dropped."""
        lease.active += 1
        try:
            yield lease.sandbox
        finally:
            lease.active -= 1
            lease.last_used = time.monotonic()
            if lease.sandbox.broken and self._leases.get(key) is lease:
                await self._drop(key, lease)

    async def end_owner(self, owner: LeaseOwner) -> None:
        """Give up every lease of a session that ended (DELETE, or the session expired)."""
        for key, lease in list(self._leases.items()):
            if key[1] == owner:
                await self._drop(key, lease)

    async def _start_for(self, caller: str, hosted: HostedVersion) -> ToolServer:
        """`_start`, within the caller's share: without one, a caller opening sessions (or
        naming made-up ones) could start a sandbox per call and keep each for `idle_seconds`."""
        held = self._held[caller]
        if held >= self._per_caller:
            raise TooManyLeasesError(
                f"`{caller}` already holds {held} sandboxes, the most one caller may "
                "(SWITCHBOARD_SANDBOX_LEASES_PER_CALLER); end MCP sessions you no longer use "
                "(HTTP DELETE), or retry once idle ones stop (SWITCHBOARD_SANDBOX_IDLE_SECONDS)"
            )
        self._held[caller] += 1
        try:
            return await self._start(hosted)
        except BaseException:
            self._give_back(caller)
            raise

    def _give_back(self, caller: str) -> None:
        self._held[caller] -= 1
        if self._held[caller] <= 0:
            del self._held[caller]

    async def _start(self, hosted: HostedVersion) -> ToolServer:
        sandbox: ToolServer
        if is_remote(hosted.kind, hosted.document):
            if self._tasks is None:
                raise ToolUnavailableError("the sandbox router is not running")
            sandbox = await self._remotes.connect(await self._launch_for(hosted), self._tasks)
        else:
            runtime = self._runtime = await self._runtime_source()
            spec = await self._spec(runtime, hosted)
            pool = runtime.manager.pool(f"v{hosted.version_id}", lambda: spec)
            sandbox = await pool.acquire()
        try:
            observed = [ToolDefinition(tool=tool) for tool in await sandbox.list_tools()]
        except BaseException:
            await self._discard(sandbox)
            raise
        if definitions_digest(observed) != hosted.digest:
            await self._discard(sandbox)
            self.quarantined.add(hosted.version_id)
            if self._runtime is not None:
                await self._runtime.manager.drop_pool(f"v{hosted.version_id}")
            await self._on_mismatch(hosted, observed)
            raise QuarantinedError(quarantine_message(hosted.label))
        return sandbox

    async def _spec(self, runtime: SandboxRuntime, hosted: HostedVersion) -> SandboxSpec:
        """Built once per version (the image build may take minutes the first time)."""
        async with self._spec_locks.setdefault(hosted.version_id, anyio.Lock()):
            if hosted.version_id not in self._specs:
                launch = await self._launch_for(hosted)
                self._specs[hosted.version_id] = await runtime.spec(launch)
            return self._specs[hosted.version_id]

    async def _drop(self, key: tuple[int, LeaseOwner], lease: Lease) -> None:
        if self._leases.get(key) is lease:
            del self._leases[key]
            self._locks.pop(key, None)
            self._give_back(key[1].caller)
        await self._release(lease)

    async def _release(self, lease: Lease) -> None:
        await self._discard(lease.sandbox)

    async def _discard(self, server: ToolServer) -> None:
        if isinstance(server, Sandbox) and self._runtime is not None:
            await self._runtime.manager.discard(server)
        else:
            await server.close()

    async def _reap_forever(self) -> None:
        while True:
            await anyio.sleep(REAP_INTERVAL)
            now = time.monotonic()
            for key, lease in list(self._leases.items()):
                idle = (
                    lease.active == 0
                    and now - lease.last_used > self._idle_seconds
                    and now > lease.kept_until
                )
                if idle or (lease.sandbox.broken and lease.active == 0):
                    await self._drop(key, lease)


def quarantine_message(label: str) -> str:
    """Why the version `label` (`name@version`) takes no calls."""
    return (
        f"{label} is quarantined: its server's tool definitions no longer match the "
        "approved ones; a security reviewer must review the change before it can be called again"
    )
