"""Turning a published version into a discovered one: build, start, `tools/list`, record.

A failure at any step leaves the version `failed` with the log that explains it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.discovery import record_discovery, record_failure
from registry.models import Server, ServerKind, ServerVersion, User, pk
from registry.openapi.credentials import accepted_credentials, declared_schemes
from registry.secretbox import SecretBox
from registry.secrets import reveal_secrets
from registry.tooldefs import Tool
from sandboxes.bridges.openapi.config import BridgeConfig, BridgeTool
from sandboxes.errors import SandboxError
from sandboxes.images import ImageBuildError
from sandboxes.launch import LaunchError
from sandboxes.runtime import Launch, SandboxRuntime
from switchboard.db import Sessions, transaction

ToolLister = Callable[[Launch], Awaitable[list[Tool]]]
"""Starts a version somewhere and returns its `tools/list`."""


class DiscoveryResult(BaseModel):
    status: str
    tools: list[str]
    log: str | None = None


class StoredTool(Protocol):
    """A version's tool as the catalogue stores it: a `registry.models.Tool` row, or a copy."""

    @property
    def definition(self) -> dict[str, Any]: ...
    @property
    def binding(self) -> dict[str, Any] | None: ...


def launch_for(
    server: Server,
    version: ServerVersion,
    secrets: dict[str, str],
    tools: Iterable[StoredTool] = (),
) -> Launch:
    """How to start `version`: its package, or for an OpenAPI server the bridge serving
    `tools` (the version's stored tools; required then, ignored otherwise)."""
    label = f"{server.name}@{version.version}"
    bridge = None
    if server.kind == ServerKind.openapi:
        bridge = openapi_bridge(server.name, label, version, tools)
    return Launch(
        key=f"v{pk(version)}",
        name=label,
        document=version.document,
        policy=version.policy,
        secrets=secrets,
        bridge=bridge,
    )


def openapi_bridge(
    server: str, label: str, version: ServerVersion, tools: Iterable[StoredTool]
) -> BridgeConfig:
    """The version's stored tools, each with every credential alternative its operation
    accepts, and the definitions of the schemes those name."""
    bridged = []
    for tool in tools:
        if tool.binding is None:
            raise LaunchError(
                f"tool {tool.definition.get('name')!r} of {label} has no call binding; "
                "import the OpenAPI document again as a new version"
            )
        try:
            security = accepted_credentials(version.document, tool.binding)
        except ValueError as exc:
            raise LaunchError(f"{label}: {exc}") from None
        bridged.append(BridgeTool(dict(tool.definition), dict(tool.binding), security))
    if not bridged:
        raise LaunchError(f"{label} is an OpenAPI server: pass its stored tools to `launch_for`")
    used = {name for tool in bridged for names in tool.security for name in names}
    schemes = declared_schemes(version.document)
    call_timeout = float(version.policy.get("callTimeoutSeconds", 30))
    return BridgeConfig(
        server=server,
        tools=tuple(sorted(bridged, key=lambda tool: tool.name)),
        schemes={name: scheme for name, scheme in schemes.items() if name in used},
        timeout=call_timeout - min(2.0, call_timeout / 10),
    )


async def discover(
    runtime: SandboxRuntime,
    sessions: Sessions,
    box: SecretBox,
    version_id: int,
    *,
    actor: User,
) -> DiscoveryResult:
    """Discover in a sandbox of `runtime`."""

    async def in_sandbox(target: Launch) -> list[Tool]:
        spec = await runtime.spec(target)
        async with await runtime.manager.start(spec) as sandbox:
            return await sandbox.list_tools()

    return await discover_with(in_sandbox, sessions, box, version_id, actor=actor)


async def discover_with(
    list_tools: ToolLister,
    sessions: Sessions,
    box: SecretBox,
    version_id: int,
    *,
    actor: User,
) -> DiscoveryResult:
    """Discover wherever `list_tools` runs the version (a sandbox, or a remote server)."""
    async with sessions() as session:
        version, server = await _load(session, version_id)
        target = launch_for(server, version, await reveal_secrets(session, box, server))
    try:
        tools = await list_tools(target)
    except ImageBuildError as exc:
        headline = str(exc).splitlines()[0]
        return await fail(sessions, version_id, actor, f"image build failed: {headline}\n{exc.log}")
    except SandboxError as exc:
        return await fail(sessions, version_id, actor, str(exc))
    async with transaction(sessions) as session:
        version, server = await _load(session, version_id)
        problems = await record_discovery(session, version, tools, slug=server.slug, actor=actor)
    if problems:
        return DiscoveryResult(status="failed", tools=[], log="\n".join(problems))
    return DiscoveryResult(status="pending", tools=sorted(t.name for t in tools))


async def fail(sessions: Sessions, version_id: int, actor: User, log: str) -> DiscoveryResult:
    async with transaction(sessions) as session:
        version, _ = await _load(session, version_id)
        await record_failure(session, version, log, actor=actor)
    return DiscoveryResult(status="failed", tools=[], log=log)


async def _load(session: AsyncSession, version_id: int) -> tuple[ServerVersion, Server]:
    version = await session.get(ServerVersion, version_id)
    if version is None:
        raise SandboxError(f"version {version_id} no longer exists")
    server = await session.get(Server, version.server_id)
    if server is None:
        raise SandboxError(f"the server of version {version_id} no longer exists")
    return version, server
