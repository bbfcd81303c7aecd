"""Publishing a packaged server builds its sandbox, lists its tools and queues it for review,
on both databases; real third-party servers from PyPI and npm included."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from registry import publishing, review
from registry.lookup import load_tools
from registry.manifest import parse_manifest, read_manifest
from registry.models import ServerVersion, Team, User, pk
from registry.teams import ensure_team, ensure_user
from sandboxes.discovery import discover
from sandboxes.runtime import Launch, SandboxRuntime
from switchboard.services import Services

pytestmark = pytest.mark.docker

ROOT = Path(__file__).parents[3]
MANIFESTS = ROOT / "tests" / "fixtures" / "manifests"
Opener = Callable[[], AbstractAsyncContextManager[SandboxRuntime]]


async def publish(services: Services, document: dict[str, Any]) -> tuple[int, User]:
    async with services.transaction() as session:
        team: Team = await ensure_team(session, "platform")
        actor = await ensure_user(session, "alice")
        version = await publishing.publish_manifest(
            session,
            parse_manifest(document, "server.json"),
            team=team,
            actor=actor,
            discover=True,
        )
    return pk(version), actor


def manifest(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (ROOT / "examples" / "clock" / "server.json", {"current_time", "convert_time"}),
        (MANIFESTS / "time-current.json", {"get_current_time", "convert_time"}),
        (MANIFESTS / "everything-npm.json", {"echo"}),
    ],
    ids=["example-clock", "pypi-mcp-server-time", "npm-server-everything"],
)
async def test_discovery_records_tools_and_digest(
    services: Services, runtime: Opener, path: Path, expected: set[str]
) -> None:
    version_id, actor = await publish(services, manifest(path))
    async with runtime() as rt:
        result = await discover(rt, services.sessions, services.secrets, version_id, actor=actor)
    assert result.status == "pending", result.log
    assert expected <= set(result.tools)
    async with services.sessions() as session:
        name = read_manifest(path).manifest.name
        detail = await review.describe(session, name)
        stored = await load_tools(session, version_id)
    assert detail.status == "pending"
    assert detail.tools_digest is not None
    assert detail.tools_digest.startswith("sha256:")
    assert {t.name for t in stored} == set(result.tools)
    assert [h.to_status for h in detail.history] == ["building", "pending"]
    scoped = {t.name: t.scopes for t in stored}
    for tool, scopes in read_manifest(path).policy.tool_scopes.items():
        assert scoped[tool] == sorted(scopes)


async def test_build_failure_leaves_the_version_failed_with_its_log(
    services: Services, runtime: Opener
) -> None:
    document = manifest(MANIFESTS / "time-current.json")
    document["name"] = "com.example/missing"
    document["packages"][0]["identifier"] = "switchboard-no-such-package-anywhere"
    version_id, actor = await publish(services, document)
    async with runtime() as rt:
        result = await discover(rt, services.sessions, services.secrets, version_id, actor=actor)
    assert result.status == "failed"
    assert "No matching distribution" in (result.log or "")
    async with services.sessions() as session:
        detail = await review.describe(session, "com.example/missing")
        assert detail.status == "failed"
        assert "switchboard-no-such-package-anywhere" in (detail.build_log or "")
        assert "\x1b[" not in (detail.build_log or "")
        assert await review.review_queue(session) == []


async def test_policy_scopes_for_missing_tools_fail_discovery(
    services: Services, runtime: Opener
) -> None:
    document = manifest(ROOT / "examples" / "clock" / "server.json")
    document["_meta"]["dev.switchboard/policy"]["toolScopes"] = {"no_such_tool": ["x"]}
    version_id, actor = await publish(services, document)
    async with runtime() as rt:
        result = await discover(rt, services.sessions, services.secrets, version_id, actor=actor)
    assert result.status == "failed"
    assert "no_such_tool" in (result.log or "")
    assert "current_time" in (result.log or "")


async def test_missing_required_secret_names_the_fix(services: Services, runtime: Opener) -> None:
    document = manifest(ROOT / "examples" / "clock" / "server.json")
    document["packages"][0]["environmentVariables"] = [
        {"name": "CLOCK_API_KEY", "isSecret": True, "isRequired": True}
    ]
    version_id, actor = await publish(services, document)
    async with runtime() as rt:
        result = await discover(rt, services.sessions, services.secrets, version_id, actor=actor)
    assert result.status == "failed"
    assert "switchboard secret set SERVER CLOCK_API_KEY" in (result.log or "")


async def test_egress_server_reaches_only_its_host_through_the_proxy(
    services: Services, runtime: Opener
) -> None:
    """The pypi-info example, egress `pypi.org`: a real lookup works from inside its sandbox."""
    path = ROOT / "examples" / "pypi-info" / "server.json"
    version_id, actor = await publish(services, manifest(path))
    async with runtime() as rt:
        result = await discover(rt, services.sessions, services.secrets, version_id, actor=actor)
        assert result.status == "pending", result.log
        async with services.sessions() as session:
            version = await session.get(ServerVersion, version_id)
            assert version is not None
            target = Launch(
                key=f"v{version_id}",
                name="pypi-info",
                document=version.document,
                policy=version.policy,
            )
        spec = await rt.spec(target)
        assert spec.profile.network == f"sb-egress-v{version_id}-{rt.instance}"
        async with await rt.manager.start(spec) as sandbox:
            found = await sandbox.call_tool("package_info", {"name": "six"}, timeout=60)
            assert not found.is_error, found.content
            assert found.structured_content is not None
            assert found.structured_content["name"].lower() == "six"
