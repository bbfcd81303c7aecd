"""S1 + S2 + S3 + S4 + S6 through the toolhost: publish `mcp-server-time` (from PyPI) and the
example tasks API (OpenAPI), approve both, grant them, call their tools through `/mcp` with the
`mcp` Python client and with pydantic-ai's `MCPToolset`, then read the audit log, verify its
chain with `switchboard audit verify`, alter one record and watch the verification fail.

The tasks API runs in a container on a Docker network standing for the company network; the
operator lets egress proxies join it (`SWITCHBOARD_EGRESS_NETWORKS`) and lets its name resolve
to a private address (`SWITCHBOARD_EGRESS_PRIVATE_ALLOW`), as a deployment would.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from pathlib import Path

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic_ai.mcp import MCPToolset
from sqlalchemy import text

from registry.models import Role
from switchboard.db import create_engine
from switchboard.settings import Settings
from tests.audit_tampering import drop_append_only_guards
from tests.conftest import user_with_token
from tests.e2e.live_server import live_switchboard
from tests.integration.sandboxes.conftest import docker_client  # noqa: F401  (fixture)
from tests.integration.sandboxes.test_openapi_bridge import (  # noqa: F401  (fixtures)
    API_HOST,
    API_KEY,
    API_PORT,
    SPEC,
    CorpApi,
    api_image,
    corp_api,
)

pytestmark = pytest.mark.docker

ROOT = Path(__file__).parents[2]
TIME_MANIFEST = ROOT / "tests" / "fixtures" / "manifests" / "time-current.json"


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def wait_for_discovery(admin: httpx.AsyncClient, path: str) -> dict[str, object]:
    with anyio.fail_after(600):
        while (detail := (await admin.get(path)).json())["status"] == "building":
            await anyio.sleep(0.5)
    return dict(detail)


async def test_publish_review_grant_call_and_audit(
    tmp_path: Path,
    database_url: str,
    corp_api: CorpApi,  # noqa: F811
) -> None:
    data_dir = tmp_path / "data"
    async with live_switchboard(
        data_dir,
        database_url,
        sandbox_owner=f"test-{uuid.uuid4().hex[:10]}",
        egress_private_allow=(f"{API_HOST}:{API_PORT}",),
        egress_networks=(corp_api.network,),
    ) as server:
        services = server.services
        team = services.settings.default_team
        admin_token = await user_with_token(services, "sec", Role.admin, ["api"])
        token = await user_with_token(services, "dev", Role.developer, ["mcp"])
        async with server.client(admin_token) as admin:
            # S1: a packaged MCP server, built and discovered in a sandbox.
            manifest = json.loads(TIME_MANIFEST.read_text())
            published = await admin.post("/api/v1/servers", json=manifest)
            assert published.status_code == 201, published.text
            time_slug = published.json()["slug"]
            time_path = f"/api/v1/servers/{time_slug}/versions/{manifest['version']}"
            detail = await wait_for_discovery(admin, time_path)
            assert detail["status"] == "pending", detail.get("build_log")

            # S2: a REST API turned into tools, its key stored as a secret.
            imported = await admin.post(
                "/api/v1/openapi-imports",
                json={
                    "name": "tasks",
                    "document": SPEC.read_text(),
                    "base_url": f"http://{API_HOST}:{API_PORT}",
                },
            )
            assert imported.status_code == 201, imported.text
            stored = await admin.put(
                "/api/v1/servers/tasks/secrets/bearerAuth", json={"value": API_KEY}
            )
            assert stored.status_code in (200, 204), stored.text

            # S3: nothing is callable before review; then approve and grant.
            for slug, version in ((time_slug, manifest["version"]), ("tasks", "0.1.0")):
                path = f"/api/v1/servers/{slug}/versions/{version}/approve"
                approved = await admin.post(path, json={"reason": "reviewed"})
                assert approved.status_code == 200, approved.text
                granted = await admin.put(f"/api/v1/grants/{team}/{slug}", json={"scopes": ["*"]})
                assert granted.status_code == 200, granted.text

        # S4: the `mcp` Python client.
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http,
            Client(streamable_http_client(server.mcp_url, http_client=http)) as client,
        ):
            names = {tool.name for tool in (await client.list_tools()).tools}
            current_time = f"{time_slug}.get_current_time"
            assert {current_time, "tasks.createTask", "tasks.getTask"} <= names
            now = await client.call_tool(current_time, {"timezone": "Europe/Paris"})
            assert not now.is_error, text_of(now)
            assert "Europe/Paris" in text_of(now)
            created = await client.call_tool(
                "tasks.createTask", {"body": {"title": "Audit the audit log"}}
            )
            assert not created.is_error, text_of(created)
            assert created.structured_content is not None
            task_id = created.structured_content["id"]

        # S4: pydantic-ai's toolset, as an agent would use it.
        toolset: MCPToolset[None] = MCPToolset(
            server.mcp_url, headers={"Authorization": f"Bearer {token}"}
        )
        async with toolset:
            fetched = await toolset.direct_call_tool("tasks.getTask", {"task_id": task_id})
            assert isinstance(fetched, dict)
            assert fetched["title"] == "Audit the audit log"

        # The API saw Switchboard's stored key, never the caller's token.
        seen = {auth for *_, auth in corp_api.requests()}
        assert hashlib.sha256(f"Bearer {API_KEY}".encode()).hexdigest() in seen
        assert hashlib.sha256(f"Bearer {token}".encode()).hexdigest() not in seen

        # S6: one record per call, naming who called what.
        async with services.engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT seq, actor, target, outcome FROM audit_record "
                        "WHERE action = 'tool.call' ORDER BY seq"
                    )
                )
            ).all()
        assert [(r.actor, r.target, r.outcome) for r in rows] == [
            ("dev", current_time, "ok"),
            ("dev", "tasks.createTask", "ok"),
            ("dev", "tasks.getTask", "ok"),
        ]
        tampered_seq = rows[1].seq

    environment = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_DATABASE_URL": database_url,
    }
    command = [str(Path(sys.executable).parent / "switchboard"), "audit", "verify"]
    intact = await anyio.run_process(command, env=environment, check=False)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert b"audit log intact" in intact.stdout
    assert b"sealed through record" in intact.stdout, "the server seals the log as it stops"

    engine = create_engine(
        Settings(data_dir=data_dir, database_url=database_url).effective_database_url
    )
    async with engine.begin() as connection:
        await drop_append_only_guards(connection)
        await connection.execute(
            text("UPDATE audit_record SET outcome = 'error' WHERE seq = :seq"),
            {"seq": tampered_seq},
        )
    await engine.dispose()
    broken = await anyio.run_process(command, env=environment, check=False)
    assert broken.returncode != 0
    assert f"broken at record {tampered_seq}".encode() in broken.stdout + broken.stderr
