"""What the call path needs to know about one approved server version, read once and kept.

A version's document and policy never change after publishing; its review state does, and so
do its tool definitions when a quarantine records what its server now reports. Both move the
catalogue revision, so the cache is kept per revision (`toolhost.calls.CallPath.hosted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.models import Server, ServerVersion, Tool

DEFAULT_CALL_TIMEOUT = 30.0


@dataclass(frozen=True)
class HostedTool:
    name: str
    """The tool's own name, as its server knows it."""
    definition: dict[str, Any]
    binding: dict[str, Any] | None


@dataclass(frozen=True)
class HostedVersion:
    version_id: int
    server_id: int
    server_name: str
    slug: str
    kind: str
    version: str
    document: dict[str, Any]
    policy: dict[str, Any]
    digest: str | None
    tools: dict[str, HostedTool]
    status: str

    @property
    def label(self) -> str:
        return f"{self.server_name}@{self.version}"

    @property
    def call_timeout(self) -> float:
        return float(self.policy.get("callTimeoutSeconds", DEFAULT_CALL_TIMEOUT))

    @property
    def audit_arguments(self) -> bool:
        return bool(self.policy.get("auditArguments", False))


async def load_hosted(session: AsyncSession, version_id: int) -> HostedVersion | None:
    version = await session.get(ServerVersion, version_id)
    if version is None:
        return None
    server = await session.get(Server, version.server_id)
    if server is None:
        return None
    rows = await session.exec(select(Tool).where(Tool.version_id == version_id))
    return HostedVersion(
        version_id=version_id,
        server_id=version.server_id,
        server_name=server.name,
        slug=server.slug,
        kind=str(server.kind),
        version=version.version,
        document=version.document,
        policy=version.policy,
        digest=version.tools_digest,
        tools={row.name: HostedTool(row.name, row.definition, row.binding) for row in rows},
        status=str(version.status),
    )
