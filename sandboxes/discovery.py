"""Turning a published version into a discovered one: build, start, `tools/list`, record.

A failure at any step leaves the version `failed` with the log that explains it.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.discovery import record_discovery, record_failure
from registry.models import Server, ServerVersion, User, pk
from registry.secretbox import SecretBox
from registry.secrets import reveal_secrets
from sandboxes.errors import SandboxError
from sandboxes.images import ImageBuildError
from sandboxes.runtime import Launch, SandboxRuntime
from switchboard.db import Sessions, transaction


class DiscoveryResult(BaseModel):
    status: str
    tools: list[str]
    log: str | None = None


def launch_for(server: Server, version: ServerVersion, secrets: dict[str, str]) -> Launch:
    return Launch(
        key=f"v{pk(version)}",
        name=f"{server.name}@{version.version}",
        document=version.document,
        policy=version.policy,
        secrets=secrets,
    )


async def discover(
    runtime: SandboxRuntime,
    sessions: Sessions,
    box: SecretBox,
    version_id: int,
    *,
    actor: User,
) -> DiscoveryResult:
    async with sessions() as session:
        version, server = await _load(session, version_id)
        target = launch_for(server, version, await reveal_secrets(session, box, server))
    try:
        spec = await runtime.spec(target)
        async with await runtime.manager.start(spec) as sandbox:
            tools = await sandbox.list_tools()
    except ImageBuildError as exc:
        headline = str(exc).splitlines()[0]
        return await fail(sessions, version_id, actor, f"image build failed: {headline}\n{exc.log}")
    except SandboxError as exc:
        return await fail(sessions, version_id, actor, str(exc))
    async with transaction(sessions) as session:
        version, _ = await _load(session, version_id)
        problems = await record_discovery(session, version, tools, actor=actor)
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
