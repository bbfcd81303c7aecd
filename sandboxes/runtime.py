"""Everything needed to run tool servers in one process: Docker, images, egress, sandboxes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import docker

from sandboxes import launch
from sandboxes.bridges.openapi.config import BridgeConfig
from sandboxes.egress import EgressNetworks, proxy_environment
from sandboxes.errors import SandboxError
from sandboxes.images import ImageBuilder
from sandboxes.manager import SandboxManager
from sandboxes.sandbox import SandboxSpec
from sandboxes.stdio_listener import StdioMode, stdio_mode


class DockerUnavailableError(SandboxError):
    """No Docker engine answers; sandboxes cannot run until one does."""


@dataclass(frozen=True)
class Launch:
    """One server version as the sandboxes see it: no users, no database rows."""

    key: str
    """Stable per version, e.g. `v42`: names its pool and egress network."""
    name: str
    document: dict[str, Any]
    policy: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    bridge: BridgeConfig | None = None
    """For an OpenAPI version, what its bridge serves; `None` runs the manifest's package."""


@dataclass
class SandboxRuntime:
    client: Any
    builder: ImageBuilder
    manager: SandboxManager
    egress: EgressNetworks
    start_timeout: float
    instance: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    """Suffix of this runtime's egress networks: two processes never share (or remove) one."""
    egress_keys: set[str] = field(default_factory=set)

    async def spec(self, target: Launch) -> SandboxSpec:
        """Build (or reuse) the image, join the egress network if any, and describe the start."""
        if target.bridge is not None:
            config = target.bridge.dumps()
            image = await anyio.to_thread.run_sync(self.builder.ensure_bridge, target.name, config)
            command = image.command
            plain: dict[str, str] = {}
            secrets = launch.bridge_secrets(target.bridge, target.secrets)
        else:
            package = launch.first_package(target.document)
            if package is None:
                raise launch.LaunchError(f"{target.name} declares no package to run in a sandbox")
            image = await anyio.to_thread.run_sync(self.builder.ensure, launch.image_spec(package))
            command = launch.command(image, package)
            plain, secrets = launch.split_environment(
                package, set(target.policy.get("secrets", [])), target.secrets
            )
        network = await self._egress(target, plain)
        return SandboxSpec(
            image_id=image.image_id,
            command=command,
            profile=launch.run_profile(
                target.policy,
                environment=plain,
                network=network,
                labels={
                    "dev.switchboard.server": target.name[:200],
                    "dev.switchboard.key": target.key,
                },
            ),
            secrets=secrets,
            start_timeout=self.start_timeout,
            name=target.name,
        )

    async def _egress(self, target: Launch, environment: dict[str, str]) -> str | None:
        """The egress network to join (its proxy's variables added), or None: no network."""
        if not target.policy.get("egress"):
            return None
        key = f"{target.key}-{self.instance}"
        self.egress_keys.add(key)
        attachment = await anyio.to_thread.run_sync(
            self.egress.ensure, key, list(target.policy["egress"])
        )
        environment.update(proxy_environment(attachment))
        return attachment.network


@asynccontextmanager
async def open_runtime(
    *,
    owner: str,
    wheelhouse: Path | None,
    pool_size: int,
    idle_timeout: float,
    max_lifetime: float,
    start_timeout: float,
    egress_private_allow: Sequence[str] = (),
    egress_networks: Sequence[str] = (),
    stdio: StdioMode = "auto",
) -> AsyncIterator[SandboxRuntime]:
    try:
        client = await anyio.to_thread.run_sync(docker.from_env)
        await anyio.to_thread.run_sync(client.ping)
    except docker.errors.DockerException as exc:
        raise DockerUnavailableError(
            f"cannot reach the Docker engine ({exc}); start it with `make up` "
            "or `scripts/docker-running.sh`"
        ) from exc
    manager = SandboxManager(
        client.api,
        owner=owner,
        pool_size=pool_size,
        idle_timeout=idle_timeout,
        max_lifetime=max_lifetime,
        stdio=await anyio.to_thread.run_sync(stdio_mode, stdio),
    )
    runtime = SandboxRuntime(
        client=client,
        builder=ImageBuilder(client, wheelhouse=wheelhouse),
        manager=manager,
        egress=EgressNetworks(
            client,
            owner=owner,
            private_allow=egress_private_allow,
            join_networks=egress_networks,
        ),
        start_timeout=start_timeout,
    )
    await anyio.to_thread.run_sync(runtime.egress.remove_leftovers)
    try:
        async with manager.running():
            yield runtime
    finally:
        with anyio.CancelScope(shield=True):
            for key in runtime.egress_keys:
                await anyio.to_thread.run_sync(runtime.egress.release, key)
            await anyio.to_thread.run_sync(client.close)
