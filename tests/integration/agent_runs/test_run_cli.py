"""The run commands against a live server's database: a run queued at the command line is
started by the server, and an approval given at the command line resumes it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.agent_runs.conftest import WorldFactory
from tests.integration.agent_runs.test_run_engine import echo_then_report

pytestmark = pytest.mark.docker


async def switchboard(settings: Any, *args: str) -> Any:
    env = {
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
        "SWITCHBOARD_DATABASE_URL": settings.database_url or "",
        "PATH": str(Path(sys.executable).parent),
    }
    command = [sys.executable, "-m", "switchboard.cli.main", "--as", "uma", "--json", *args]
    done = await anyio.run_process(command, env=env, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


async def test_queue_and_approve_from_the_command_line(world: WorldFactory) -> None:
    async with world(agent_heartbeat_seconds=0.5) as w:
        w.model(echo_then_report)
        settings = w.server.services.settings
        run = await switchboard(settings, "run", "start", "helper", "--answer", "expression=1")
        assert run["status"] == "queued"
        waiting = await w.wait(run["id"], "waiting_approval")
        approval = str(waiting["approvals"][0]["id"])
        shown = await switchboard(settings, "run", "show", run["id"])
        assert shown["approvals"][0]["status"] == "pending"
        await switchboard(settings, "run", "approve", run["id"], approval, "--note", "ok")
        done = await w.wait(run["id"], "succeeded", "failed")
        assert done["status"] == "succeeded", done
        events = await switchboard(settings, "run", "events", run["id"])
        assert events[-1]["status"] == "succeeded"
        assert next(e for e in events if e["kind"] == "approval_decision")["note"] == "ok"
        listed = await switchboard(settings, "run", "list")
        assert [r["id"] for r in listed] == [run["id"]]
