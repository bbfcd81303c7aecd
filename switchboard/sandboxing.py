"""The sandbox runtime configured from the settings (the one place that maps them)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from registry.teams import ensure_user
from sandboxes.discovery import DiscoveryResult, discover, fail
from sandboxes.runtime import DockerUnavailableError, SandboxRuntime, open_runtime
from switchboard.services import Services
from switchboard.settings import Settings


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
    )


async def discover_version(services: Services, version_id: int, actor: str) -> DiscoveryResult:
    """Build, start and list one version's tools; any failure is recorded on the version."""
    async with services.transaction() as session:
        user = await ensure_user(session, actor)
    try:
        async with runtime_for(services.settings) as runtime:
            return await discover(
                runtime, services.sessions, services.secrets, version_id, actor=user
            )
    except DockerUnavailableError as exc:
        return await fail(services.sessions, version_id, user, str(exc))
