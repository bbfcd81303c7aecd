"""The sandbox runtime and the remote connector configured from the settings (the one place
that maps them), and discovery, which uses whichever a version runs on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
from anyio.abc import TaskGroup

from registry.models import Server, ServerVersion
from registry.teams import ensure_user
from sandboxes.discovery import DiscoveryResult, discover, discover_with, fail
from sandboxes.egress.policy import parse_allowlist
from sandboxes.runtime import DockerUnavailableError, SandboxRuntime, open_runtime
from switchboard.services import Services
from switchboard.settings import Settings
from toolhost.remote_egress import RemoteEgress
from toolhost.remotes import RemoteConnector, is_remote


def runtime_for(settings: Settings) -> AbstractAsyncContextManager[SandboxRuntime]:
    return open_runtime(
        owner=settings.effective_sandbox_owner,
        wheelhouse=settings.effective_wheelhouse
        if settings.effective_wheelhouse.is_dir()
        else None,
        pool_size=settings.sandbox_pool_size,
        idle_timeout=settings.sandbox_idle_seconds,
        max_lifetime=settings.sandbox_max_lifetime_seconds,
        start_timeout=settings.sandbox_start_timeout_seconds,
        egress_private_allow=settings.egress_private_allow,
        egress_networks=settings.egress_networks,
        stdio=settings.sandbox_stdio,
    )


def remote_connector(settings: Settings) -> RemoteConnector:
    return RemoteConnector(
        RemoteEgress(
            allow_loopback=settings.remote_allow_loopback,
            private_allow=parse_allowlist(settings.egress_private_allow),
        ),
        start_timeout=settings.sandbox_start_timeout_seconds,
        max_age=settings.sandbox_max_lifetime_seconds,
    )


async def discover_version(services: Services, version_id: int, actor: str) -> DiscoveryResult:
    """Build, start and list one version's tools (or connect to its remote and list them);
    any failure is recorded on the version."""
    async with services.transaction() as session:
        user = await ensure_user(session, actor)
        version = await session.get(ServerVersion, version_id)
        server = await session.get(Server, version.server_id) if version else None
        remote = bool(version and server and is_remote(server.kind, version.document))
    if remote:
        lister = remote_connector(services.settings).list_tools
        return await discover_with(
            lister, services.sessions, services.secrets, version_id, actor=user
        )
    try:
        async with runtime_for(services.settings) as runtime:
            return await discover(
                runtime, services.sessions, services.secrets, version_id, actor=user
            )
    except DockerUnavailableError as exc:
        return await fail(services.sessions, version_id, user, str(exc))


class LazyRuntime:
    """The serving process's sandbox runtime, opened on the first call that needs a sandbox.

    Opening talks to Docker and cleans up leftovers, which a process that never runs a tool
    (or runs without Docker) should not pay for. The runtime lives in a task of its own, since
    its task groups must be entered and left by one task; if Docker is unreachable, each call
    gets the reason and the next one tries again.
    """

    def __init__(self, settings: Settings, tasks: TaskGroup) -> None:
        self._settings = settings
        self._tasks = tasks
        self._runtime: SandboxRuntime | None = None
        self._opening: anyio.Event | None = None
        self._error: DockerUnavailableError | None = None
        self._stop = anyio.Event()

    async def get(self) -> SandboxRuntime:
        if self._runtime is not None:
            return self._runtime
        if self._opening is None:
            self._opening, self._error = anyio.Event(), None
            self._tasks.start_soon(self._hold, self._opening)
        await self._opening.wait()
        if self._runtime is None:
            self._opening = None
            raise self._error or DockerUnavailableError("the sandbox runtime stopped")
        return self._runtime

    def close(self) -> None:
        self._stop.set()

    async def _hold(self, opened: anyio.Event) -> None:
        try:
            async with runtime_for(self._settings) as runtime:
                self._runtime = runtime
                opened.set()
                await self._stop.wait()
        except DockerUnavailableError as exc:
            self._error = exc
        finally:
            self._runtime = None
            opened.set()


@asynccontextmanager
async def lazy_runtime(settings: Settings) -> AsyncIterator[LazyRuntime]:
    async with anyio.create_task_group() as tasks:
        holder = LazyRuntime(settings, tasks)
        try:
            yield holder
        finally:
            holder.close()
