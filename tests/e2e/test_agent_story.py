"""The prebuilt agents, end to end: a live Switchboard, the bundled clock and calculator servers
and the example tasks API published, approved and granted through the API, the catalogue
published as `make up` publishes it (`switchboard agent publish --catalog`), and agents launched
over HTTP; they reach their tools through the real `/mcp` and real sandboxes, while pydantic-ai's
`FunctionModel` plays the model's part.

Each story is read back as a person would: the run's event stream (server-sent events), its
final state, the tasks API itself, and the audit log, whose chain `switchboard audit verify`
checks.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo
from sqlmodel import col, select

from registry.models import Role
from switchboard.audit.models import AuditRecord
from tests.conftest import user_with_token
from tests.e2e.live_server import LiveServer, live_switchboard
from tests.integration.agent_runs.conftest import Script, read_events, scripted
from tests.integration.sandboxes.conftest import (  # noqa: F401  (fixtures)
    docker_client,
    wheelhouse,
)
from tests.integration.sandboxes.test_openapi_bridge import (  # noqa: F401  (fixtures)
    API_HOST,
    API_KEY,
    API_PORT,
    SPEC,
    CorpApi,
    api_image,
    corp_api,
)
from tests.integration.toolhost.conftest import publish_and_approve

pytestmark = pytest.mark.docker

ROOT = Path(__file__).parents[2]
ENDED = ("succeeded", "failed", "cancelled", "interrupted")


@dataclass
class Story:
    server: LiveServer
    user: httpx.AsyncClient
    """`uma`, a user of the default team, with an `api` token: she launches and decides."""
    corp_api: CorpApi
    script: list[Script]

    def model(self, function: Script) -> None:
        """From now on the model answers every request with `function`."""
        self.script.append(function)

    async def launch(self, agent: str, answers: dict[str, Any]) -> str:
        response = await self.user.post(f"/api/v1/agents/{agent}/runs", json={"answers": answers})
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "queued"
        return str(response.json()["id"])

    async def wait(self, run_id: str, *statuses: str) -> dict[str, Any]:
        with anyio.fail_after(180):
            while (run := (await self.user.get(f"/api/v1/runs/{run_id}")).json())[
                "status"
            ] not in statuses:
                await anyio.sleep(0.1)
        return dict(run)

    async def events(self, run_id: str) -> list[dict[str, Any]]:
        """The whole stream, read over HTTP until the server ends it (the run has ended)."""
        return await read_events(self.user, run_id)

    async def audit(self, action: str) -> list[AuditRecord]:
        async with self.server.services.sessions() as session:
            rows = await session.exec(
                select(AuditRecord)
                .where(AuditRecord.action == action)
                .order_by(col(AuditRecord.seq))
            )
            return list(rows)

    async def tasks_api(self, path: str) -> Any:
        """GET `path` from the tasks API itself, from inside its container (its network is
        internal), with its own key: what really exists there, not what the agent said."""
        fetch = (
            "import json, sys, urllib.request as u\n"
            "r = u.Request(sys.argv[1], headers={'Authorization': 'Bearer ' + sys.argv[2]})\n"
            "print(u.urlopen(r).read().decode())\n"
        )
        url = f"http://127.0.0.1:{API_PORT}{path}"
        command = ["/opt/server/bin/python", "-c", fetch, url, API_KEY]
        done = await anyio.to_thread.run_sync(
            lambda: self.corp_api.container.exec_run(command, user="10001:10001")
        )
        assert done.exit_code == 0, done.output.decode()
        return json.loads(done.output)


StoryFactory = Callable[[], AbstractAsyncContextManager[Story]]


async def switchboard(data_dir: Path, database_url: str, *args: str) -> str:
    """Run the `switchboard` command line on the server's data, as an operator would."""
    environment = {
        "PATH": str(Path(sys.executable).parent),
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_DATABASE_URL": database_url,
        "SWITCHBOARD_ACTOR": "root",
    }
    command = [str(Path(sys.executable).parent / "switchboard"), *args]
    done = await anyio.run_process(command, env=environment, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    return done.stdout.decode()


@pytest.fixture
def story(
    tmp_path: Path,
    database_url: str,
    wheelhouse: Path,  # noqa: F811
    corp_api: CorpApi,  # noqa: F811
) -> StoryFactory:
    """`async with story() as s:` a live server with clock, calculator and the tasks API
    approved and granted to the default team, and the catalogue published."""
    data_dir = tmp_path / "data"

    @asynccontextmanager
    async def open_story() -> AsyncIterator[Story]:
        async with live_switchboard(
            data_dir,
            database_url,
            wheelhouse=wheelhouse,
            sandbox_owner=f"test-{uuid.uuid4().hex[:10]}",
            egress_private_allow=(f"{API_HOST}:{API_PORT}",),
            egress_networks=(corp_api.network,),
        ) as server:
            services = server.services
            team = services.settings.default_team
            root = await user_with_token(services, "root", Role.admin, ["api"])
            uma = await user_with_token(services, "uma", Role.user, ["api"])
            async with (
                server.client(root) as admin,
                server.client(uma) as user,
            ):
                slugs = [
                    await publish_and_approve(
                        admin, json.loads((ROOT / "examples" / name / "server.json").read_text())
                    )
                    for name in ("clock", "calculator")
                ]
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
                approved = await admin.post(
                    "/api/v1/servers/tasks/versions/0.1.0/approve", json={"reason": "reviewed"}
                )
                assert approved.status_code == 200, approved.text
                for slug in (*slugs, "tasks"):
                    granted = await admin.put(
                        f"/api/v1/grants/{team}/{slug}", json={"scopes": ["*"]}
                    )
                    assert granted.status_code == 200, granted.text

                await switchboard(data_dir, database_url, "agent", "publish", "--catalog")
                script: list[Script] = []
                server.app.state.runs.model_for = scripted(script)
                yield Story(server, user, corp_api, script)

    return open_story


async def audit_chain_intact(story: Story) -> None:
    settings = story.server.services.settings
    verified = await switchboard(settings.data_dir, settings.database_url or "", "audit", "verify")
    assert "audit log intact" in verified


# -- the model's scripts --------------------------------------------------------------------


def returned(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    """The tool results the engine just sent the model (none on the first request)."""
    last = messages[-1]
    assert isinstance(last, ModelRequest)
    return [part for part in last.parts if isinstance(part, ToolReturnPart)]


def content(part: ToolReturnPart) -> dict[str, Any]:
    value = part.content
    parsed = json.loads(value) if isinstance(value, str) else value
    assert isinstance(parsed, dict), value
    return parsed


def tool_names(info: AgentInfo) -> set[str]:
    return {tool.name for tool in info.function_tools}


def convert_for_everyone(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """meeting-time as a good model plays it: one conversion per attendee, in parallel."""
    assert tool_names(info) == {"clock.convert_time", "clock.find_timezones"}
    results = returned(messages)
    if not results:
        prompt = str(messages[0])
        assert "Meeting time: 2026-06-01T09:30 in Europe/Paris." in prompt, prompt
        calls = [
            ToolCallPart(
                "clock.convert_time",
                {
                    "time": "2026-06-01T09:30",
                    "source_timezone": "Europe/Paris",
                    "target_timezone": z,
                },
            )
            for z in ("America/New_York", "Asia/Tokyo")
        ]
        return ModelResponse(parts=[TextPart("Converting for each attendee."), *calls])
    lines = []
    for part in results:
        target = content(part)["target"]
        lines.append(f"{target['timezone']}: {target['iso_datetime']}")
    return ModelResponse(parts=[TextPart("\n".join(lines))])


def plan_to(deadline: str) -> Script:
    """deadline-planner: today's date, the working days until `deadline`, the daily pace."""

    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        assert tool_names(info) == {
            "clock.current_time",
            "clock.business_days",
            "calculator.evaluate",
        }
        results = returned(messages)
        if not results:
            return ModelResponse(parts=[ToolCallPart("clock.current_time", {"timezone": "UTC"})])
        last = results[-1]
        if last.tool_name == "clock.current_time":
            arguments = {"start_date": content(last)["date"], "end_date": deadline}
            return ModelResponse(parts=[ToolCallPart("clock.business_days", arguments)])
        if last.tool_name == "clock.business_days":
            expression = f"40 / {content(last)['count']}"
            return ModelResponse(
                parts=[ToolCallPart("calculator.evaluate", {"expression": expression})]
            )
        return ModelResponse(parts=[TextPart(f"Pace: {content(last)['value']} hours a day.")])

    return script


def keep_searching(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """A model that never stops looking a timezone up."""
    return ModelResponse(parts=[ToolCallPart("clock.find_timezones", {"query": "paris"})])


def capture_task(title: str) -> Script:
    """task-capture: look for a duplicate, create the task, say what happened."""

    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        assert tool_names(info) == {"tasks.listTasks", "tasks.createTask"}
        results = returned(messages)
        if not results:
            return ModelResponse(parts=[ToolCallPart("tasks.listTasks", {"done": False})])
        last = results[-1]
        if last.tool_name == "tasks.listTasks":
            assert title not in str(last.content), "no duplicate yet"
            body = {"title": title, "tags": ["e2e"]}
            return ModelResponse(
                parts=[TextPart("No duplicate."), ToolCallPart("tasks.createTask", {"body": body})]
            )
        if last.outcome == "denied":
            return ModelResponse(parts=[TextPart(f"Nothing created: {last.content}")])
        task = content(last)
        return ModelResponse(parts=[TextPart(f"{task['id']}: {task['title']}")])

    return script


# -- the stories ----------------------------------------------------------------------------


async def test_read_only_agents_answer_and_a_runaway_stops_at_its_limit(
    story: StoryFactory,
) -> None:
    async with story() as s:
        catalogue = (await s.user.get("/api/v1/agents")).json()
        launchable = {card["name"] for card in catalogue if card["launchable"]}
        assert {"meeting-time", "deadline-planner", "task-capture"} <= launchable, catalogue

        # meeting-time: two conversions through the clock sandbox, then the answer.
        s.model(convert_for_everyone)
        meeting = await s.launch(
            "meeting-time",
            {
                "time": "2026-06-01T09:30",
                "source_timezone": "Europe/Paris",
                "target_timezones": "America/New_York, Asia/Tokyo",
            },
        )
        done = await s.wait(meeting, *ENDED)
        assert done["status"] == "succeeded", done
        assert "America/New_York: 2026-06-01T03:30" in done["output"]
        assert "Asia/Tokyo: 2026-06-01T16:30" in done["output"]
        events = await s.events(meeting)
        assert [e["kind"] for e in events] == [
            "status",  # queued
            "status",  # running
            "model_text",
            "tool_call",
            "tool_call",
            "tool_result",
            "tool_result",
            "model_text",
            "output",
            "status",  # succeeded
        ], events
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        results = [e for e in events if e["kind"] == "tool_result"]
        assert {e["outcome"] for e in results} == {"success"}
        assert any("16:30" in e["content"] for e in results)
        assert events[-2]["output"] == done["output"]

        # deadline-planner: a chain over two servers, each result feeding the next call.
        deadline = (datetime.now(UTC).date() + timedelta(days=28)).isoformat()
        s.model(plan_to(deadline))
        planner = await s.launch("deadline-planner", {"deadline": deadline, "work": 40})
        done = await s.wait(planner, *ENDED)
        assert done["status"] == "succeeded", done
        events = await s.events(planner)
        calls = [e for e in events if e["kind"] == "tool_call"]
        assert [e["tool"] for e in calls] == [
            "clock.current_time",
            "clock.business_days",
            "calculator.evaluate",
        ]
        counted = next(
            e for e in events if e["kind"] == "tool_result" and e["tool"] == "clock.business_days"
        )
        days = json.loads(counted["content"])["count"]
        assert 19 <= days <= 21, "four weeks from today, weekends skipped"
        assert calls[2]["arguments"] == {"expression": f"40 / {days}"}
        assert done["output"] == f"Pace: {40 / days} hours a day."

        # A model that loops: meeting-time allows 10 tool calls; the run stops there.
        s.model(keep_searching)
        runaway = await s.launch(
            "meeting-time", {"time": "09:00", "target_timezones": "Europe/Paris"}
        )
        done = await s.wait(runaway, *ENDED)
        assert done["status"] == "failed", done
        assert done["reason"] == (
            "stopped at a limit of the agent: "
            "The next tool call(s) would exceed the tool_calls_limit of 10 (tool_calls=11)"
        )
        assert done["output"] is None
        events = await s.events(runaway)
        results = [e for e in events if e["kind"] == "tool_result"]
        assert len(results) == 10, "the calls made before the limit stay in the history"
        assert all(e["outcome"] == "success" and "Europe/Paris" in e["content"] for e in results)
        assert [e["kind"] for e in events[-2:]] == ["error", "status"]
        assert events[-2]["message"] == done["reason"]
        assert events[-1] == {**events[-1], "status": "failed", "reason": done["reason"]}

        # Every tool call is audited as the agent acting for uma.
        audited = await s.audit("tool.call")
        assert len(audited) == 2 + 3 + 10
        assert {(c.actor, c.on_behalf_of, c.outcome) for c in audited} == {("uma", "uma", "ok")}
        assert [c.client for c in audited] == (
            ["agent:meeting-time"] * 2
            + ["agent:deadline-planner"] * 3
            + ["agent:meeting-time"] * 10
        )
        finished = await s.audit("agent.run.finish")
        assert [(r.detail["run"], r.outcome) for r in finished] == [
            (meeting, "succeeded"),
            (planner, "succeeded"),
            (runaway, "failed"),
        ]
        assert finished[-1].detail["reason"] == done["reason"]
        await audit_chain_intact(s)


async def test_task_capture_waits_for_approval_and_a_denial_is_told_to_the_model(
    story: StoryFactory,
) -> None:
    async with story() as s:
        title = f"Renew passport {uuid.uuid4().hex[:6]}"
        s.model(capture_task(title))
        approved_run = await s.launch("task-capture", {"title": title, "tags": "e2e"})
        waiting = await s.wait(approved_run, "waiting_approval", *ENDED)
        assert waiting["status"] == "waiting_approval", waiting
        assert waiting["reason"] == "waiting for approval to call tasks.createTask"
        (approval,) = waiting["approvals"]
        assert approval["tool"] == "tasks.createTask"
        assert approval["arguments"] == {"body": {"title": title, "tags": ["e2e"]}}
        assert approval["status"] == "pending"
        listed = await s.tasks_api("/tasks?limit=200")
        assert title not in json.dumps(listed), "nothing is created before the approval"
        assert [c.target for c in await s.audit("tool.call")] == ["tasks.listTasks"]

        decided = await s.user.post(
            f"/api/v1/runs/{approved_run}/approvals/{approval['id']}",
            json={"approve": True, "note": "yes please"},
        )
        assert decided.status_code == 200, decided.text
        done = await s.wait(approved_run, *ENDED)
        assert done["status"] == "succeeded", done
        task_id, _, said = done["output"].partition(": ")
        assert said == title
        task = await s.tasks_api(f"/tasks/{task_id}")
        assert (task["title"], task["tags"], task["done"]) == (title, ["e2e"], False)
        events = await s.events(approved_run)
        kinds = [e["kind"] for e in events]
        assert kinds == [
            "status",  # queued
            "status",  # running
            "tool_call",  # listTasks
            "tool_result",
            "model_text",
            "tool_call",  # createTask
            "approval_request",
            "status",  # waiting_approval
            "approval_decision",
            "status",  # queued
            "status",  # running
            "tool_result",
            "model_text",
            "output",
            "status",  # succeeded
        ], kinds
        decision = events[kinds.index("approval_decision")]
        assert decision["approval_id"] == approval["id"]
        assert (decision["approve"], decision["by"], decision["note"]) == (
            True,
            "uma",
            "yes please",
        )
        created = events[11]
        assert (created["tool"], created["outcome"]) == ("tasks.createTask", "success")
        assert task_id in created["content"]

        # The same agent again; uma says no: the model is told why and finishes.
        second = f"{title} (again)"
        s.model(capture_task(second))
        denied_run = await s.launch("task-capture", {"title": second})
        waiting = await s.wait(denied_run, "waiting_approval", *ENDED)
        assert waiting["status"] == "waiting_approval", waiting
        decided = await s.user.post(
            f"/api/v1/runs/{denied_run}/approvals/{waiting['approvals'][0]['id']}",
            json={"approve": False, "note": "not this week"},
        )
        assert decided.status_code == 200, decided.text
        done = await s.wait(denied_run, *ENDED)
        assert done["status"] == "succeeded", done
        assert done["output"] == "Nothing created: uma denied this tool call: not this week"
        assert done["approvals"][0]["status"] == "denied"
        events = await s.events(denied_run)
        told = [e for e in events if e["kind"] == "tool_result" and e["tool"] == "tasks.createTask"]
        assert [e["outcome"] for e in told] == ["denied"]
        listed = await s.tasks_api("/tasks?limit=200")
        assert second not in json.dumps(listed), "the denied task was never created"

        calls = await s.audit("tool.call")
        assert [(c.target, c.client, c.actor, c.on_behalf_of) for c in calls] == [
            ("tasks.listTasks", "agent:task-capture", "uma", "uma"),
            ("tasks.createTask", "agent:task-capture", "uma", "uma"),
            ("tasks.listTasks", "agent:task-capture", "uma", "uma"),
        ]
        decisions = await s.audit("agent.run.approval")
        assert [(r.actor, r.outcome, r.detail["run"], r.detail["tool"]) for r in decisions] == [
            ("uma", "approved", approved_run, "tasks.createTask"),
            ("uma", "denied", denied_run, "tasks.createTask"),
        ]
        await audit_chain_intact(s)
