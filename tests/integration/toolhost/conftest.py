"""A live Switchboard with real sandboxes: the calculator example and the hostile fixture,
published through the API, discovered in real containers, approved and granted (and the
conformance fixture's wheel, for tests that publish it too)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from registry.models import Role
from tests.conftest import user_with_token
from tests.e2e.live_server import LiveServer, live_switchboard
from tests.wheels import build_wheels

ROOT = Path(__file__).parents[3]
PACKAGES = (
    ROOT / "examples" / "calculator",
    ROOT / "tests" / "fixtures" / "hostile",
    ROOT / "tests" / "fixtures" / "conformance_server",
)
HOSTILE_MANIFEST: dict[str, Any] = {
    "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
    "name": "dev.switchboard.tests/hostile",
    "description": "Misbehaves on request",
    "version": "0.1.0",
    "packages": [
        {
            "registryType": "pypi",
            "identifier": "switchboard-test-hostile",
            "version": "0.1.0",
            "transport": {"type": "stdio"},
        }
    ],
    "_meta": {"dev.switchboard/policy": {"callTimeoutSeconds": 3, "auditArguments": True}},
}


@pytest.fixture(scope="session")
def toolhost_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheels(tmp_path_factory.mktemp("toolhost-wheels"), *PACKAGES)


@dataclass(frozen=True)
class Hosted:
    server: LiveServer
    admin: httpx.AsyncClient
    """The admin's API client (api scope)."""
    token: str
    """`dana`'s personal access token (mcp scope), a developer in the default team."""


async def publish_and_approve(admin: httpx.AsyncClient, manifest: dict[str, Any]) -> str:
    """Publish, wait for discovery in a real sandbox, approve; returns the server's slug."""
    published = await admin.post("/api/v1/servers", json=manifest)
    assert published.status_code == 201, published.text
    slug = published.json()["slug"]
    version = f"/api/v1/servers/{slug}/versions/{manifest['version']}"
    with anyio.fail_after(600):
        while (detail := (await admin.get(version)).json())["status"] == "building":
            await anyio.sleep(0.5)
    assert detail["status"] == "pending", detail.get("build_log")
    approved = await admin.post(version + "/approve", json={"reason": "reviewed in a test"})
    assert approved.status_code == 200, approved.text
    return str(slug)


HostedFactory = Callable[..., AbstractAsyncContextManager[Hosted]]


@pytest.fixture
def hosted(tmp_path: Path, database_url: str, toolhost_wheels: Path) -> HostedFactory:
    """`async with hosted(**settings) as world:` a live server with calculator and hostile
    approved and granted (`*`) to the default team."""

    @asynccontextmanager
    async def open_world(**overrides: Any) -> AsyncIterator[Hosted]:
        async with live_switchboard(
            tmp_path / "data",
            database_url,
            wheelhouse=toolhost_wheels,
            sandbox_owner=f"test-{uuid.uuid4().hex[:10]}",
            **overrides,
        ) as server:
            services = server.services
            admin_token = await user_with_token(services, "root", Role.admin, ["api"])
            token = await user_with_token(services, "dana", Role.developer, ["mcp"])
            async with httpx.AsyncClient(
                base_url=server.url,
                headers={"Authorization": f"Bearer {admin_token}"},
                timeout=60,
            ) as admin:
                calculator = (ROOT / "examples" / "calculator" / "server.json").read_text()
                for manifest in (json.loads(calculator), HOSTILE_MANIFEST):
                    slug = await publish_and_approve(admin, manifest)
                    granted = await admin.put(
                        f"/api/v1/grants/{services.settings.default_team}/{slug}",
                        json={"scopes": ["*"]},
                    )
                    assert granted.status_code == 200, granted.text
                yield Hosted(server=server, admin=admin, token=token)

    return open_world
