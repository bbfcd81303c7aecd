"""Where each deployment is reached and with which key.

Keys come from an environment variable or a stored model secret, looked up on each attempt (so
a rotated key works without a restart) and never logged. The `local` provider's base URL comes
from whatever runs the embedded model (`LocalEndpoint`), started on first use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from agents.models.config import ANTHROPIC_URL, OPENAI_URL, Deployment
from agents.models.failures import UpstreamFailure
from agents.models.store import ConfigStore


class LocalEndpoint(Protocol):
    """The embedded default model's OpenAI-compatible server (`agents/local_model.py`)."""

    async def base_url(self) -> str: ...


class Endpoints:
    def __init__(
        self,
        store: ConfigStore,
        local: LocalEndpoint | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._store = store
        self._environ = environ
        self.local = local

    async def resolve(self, deployment: Deployment) -> tuple[str, str | None]:
        """(base URL, API key) for one attempt, or an `UpstreamFailure` saying what is missing."""
        label = deployment.label
        if deployment.provider == "local":
            if self.local is None:
                raise UpstreamFailure(
                    "connect", f"{label}: the embedded local model is not available"
                )
            try:
                return await self.local.base_url(), None
            except Exception as exc:
                raise UpstreamFailure("connect", f"{label}: {exc}") from None
        base = deployment.base_url or (
            ANTHROPIC_URL if deployment.provider == "anthropic" else OPENAI_URL
        )
        return base, self.key(deployment)

    def key(self, deployment: Deployment) -> str | None:
        label = deployment.label
        if deployment.api_key_env is not None:
            value = self._environ.get(deployment.api_key_env)
            if not value:
                raise UpstreamFailure(
                    "unauthorized",
                    f"{label}: the environment variable `{deployment.api_key_env}` "
                    "holding its API key is not set",
                )
            return value
        if deployment.api_key_secret is not None:
            value = self._store.secret(deployment.api_key_secret)
            if value is None:
                raise UpstreamFailure(
                    "unauthorized",
                    f"{label}: no model secret `{deployment.api_key_secret}` is "
                    "stored (PUT /api/v1/models/secrets/{name})",
                )
            return value
        return None
