"""The sandbox runtime configured from the settings (the one place that maps them)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from sandboxes.runtime import SandboxRuntime, open_runtime
from switchboard.settings import Settings


def runtime_for(settings: Settings) -> AbstractAsyncContextManager[SandboxRuntime]:
    return open_runtime(
        owner=settings.effective_sandbox_owner,
        wheelhouse=settings.effective_wheelhouse,
        pool_size=settings.sandbox_pool_size,
        idle_timeout=settings.sandbox_idle_seconds,
        max_lifetime=settings.sandbox_max_lifetime_seconds,
        start_timeout=settings.sandbox_start_timeout_seconds,
    )
