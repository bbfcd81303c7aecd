"""A prebuilt agent on the embedded model, end to end: the catalogue's meeting-time agent,
launched over HTTP on a live Switchboard with no model provider configured, runs through the real
run engine, reaches the bundled clock server through the real `/mcp` and a real sandbox, and asks
the real llama.cpp server (SmolLM2-135M) through the routed model layer.

The model is tiny, so what it answers is not judged: only that the run ends within its limits
(tightened here) or says which one stopped it, that its story was streamed in order, that every
model request was accounted to the user, and that the tools it called were audited as the agent
acting for her.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import anyio
import pytest
import yaml
from sqlmodel import col, select

from agents.catalog import CATALOG_DIR
from agents.models.tables import ModelUsage
from registry.models import Role
from switchboard.audit.models import AuditRecord
from tests.conftest import user_with_token
from tests.e2e.live_server import live_switchboard
from tests.integration.agent_runs.conftest import publish, read_events
from tests.integration.sandboxes.conftest import wheelhouse  # noqa: F401  (fixture)
from tests.integration.toolhost.conftest import publish_and_approve

pytestmark = [pytest.mark.local_model, pytest.mark.docker]

ROOT = Path(__file__).parents[3]
AGENT = "meeting-time"
ENDED = ("succeeded", "failed", "cancelled", "interrupted")
TEST_LIMITS = {"requests": 4, "wall_time_seconds": 150}
"""Tighter than the catalogue's: on two busy vCPUs a request with the tools' descriptions can take
20 s, and the test is about the path, not about how long the model keeps trying."""


# The database plays no part here that the other agent-run tests do not cover, and each run
# takes minutes of the model's time: PostgreSQL only.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_catalogue_agent_runs_on_the_embedded_model(
    gguf: Path,
    tmp_path: Path,
    database_url: str,
    wheelhouse: Path,  # noqa: F811
) -> None:
    async with live_switchboard(
        tmp_path / "data",
        database_url,
        wheelhouse=wheelhouse,
        sandbox_owner=f"test-{uuid.uuid4().hex[:10]}",
    ) as server:
        services = server.services
        assert server.app.state.models.endpoints.local is not None
        root = await user_with_token(services, "root", Role.admin, ["api"])
        uma = await user_with_token(services, "uma", Role.user, ["api"])
        async with (
            server.client(root) as admin,
            server.client(uma) as user,
        ):
            clock = json.loads((ROOT / "examples" / "clock" / "server.json").read_text())
            slug = await publish_and_approve(admin, clock)
            team = services.settings.default_team
            granted = await admin.put(f"/api/v1/grants/{team}/{slug}", json={"scopes": ["*"]})
            assert granted.status_code == 200, granted.text
            document = yaml.safe_load((CATALOG_DIR / f"{AGENT}.yaml").read_text())
            limits = {**document["switchboard"]["limits"], **TEST_LIMITS}
            document["switchboard"]["limits"] = limits
            await publish(server, document)

            (listed,) = [a for a in (await user.get("/api/v1/agents")).json() if a["name"] == AGENT]
            assert (listed["launchable"], listed["reasons"]) == (True, []), listed

            launched = await user.post(
                f"/api/v1/agents/{AGENT}/runs",
                json={
                    "answers": {
                        "time": "2026-06-01T09:30",
                        "source_timezone": "Europe/Paris",
                        "target_timezones": "America/New_York",
                    }
                },
            )
            assert launched.status_code == 201, launched.text
            run_id = launched.json()["id"]
            with anyio.fail_after(limits["wall_time_seconds"] + 60):
                while (run := (await user.get(f"/api/v1/runs/{run_id}")).json())[
                    "status"
                ] not in ENDED:
                    await anyio.sleep(0.5)
            events = await read_events(user, run_id)

        assert run["status"] in ("succeeded", "failed"), run
        if run["status"] == "failed":
            assert run["reason"], "a failed run says why"
            assert "not available" not in run["reason"], "the embedded model answered"
        else:
            assert run["output"]

        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert [(e["kind"], e["status"]) for e in events[:2]] == [
            ("status", "queued"),
            ("status", "running"),
        ]
        assert (events[-1]["kind"], events[-1]["status"]) == ("status", run["status"])
        kinds = {e["kind"] for e in events}
        assert kinds <= {"status", "model_text", "tool_call", "tool_result", "output", "error"}

        async with services.sessions() as session:
            rows = (
                await session.exec(select(ModelUsage).where(col(ModelUsage.run_id) == run_id))
            ).all()
        assert 1 <= len(rows) <= limits["requests"]
        for row in rows:
            assert (row.alias, row.provider, row.user, row.team) == (
                "default",
                "local",
                "uma",
                team,
            )
            assert row.input_tokens > 0
            assert row.output_tokens > 0
        usage = run["usage"]
        assert usage["requests"] == len(rows)
        assert usage["input_tokens"] == sum(row.input_tokens for row in rows)
        assert usage["output_tokens"] == sum(row.output_tokens for row in rows)

        calls = [e for e in events if e["kind"] == "tool_call"]
        assert len(calls) <= limits["tool_calls"]
        # Calls whose arguments did not validate never leave pydantic-ai; the others reach `/mcp`.
        reached = [
            e
            for e in events
            if e["kind"] == "tool_result" and e["outcome"] in ("success", "failed")
        ]
        async with services.sessions() as session:
            audited = (
                await session.exec(select(AuditRecord).where(AuditRecord.action == "tool.call"))
            ).all()
        assert len(audited) == len(reached)
        for record in audited:
            assert (record.actor, record.on_behalf_of, record.client) == (
                "uma",
                "uma",
                f"agent:{AGENT}",
            )
            assert (record.target or "").startswith("clock.")
