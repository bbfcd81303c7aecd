"""The run engine's own time per agent step, as a ratio to one tool call through `/mcp`.

Switchboard runs in this process (uvicorn on 127.0.0.1, SQLite in a temporary data dir) with the
calculator example published, discovered in a real sandbox, approved and granted. An agent whose
only tool is `calculator.evaluate` is launched through the API; pydantic-ai's `FunctionModel`
plays the model, asking for one `evaluate` call per step for STEPS steps, then answering. So each
step is one model request and one tool call through the real `/mcp` (token check, grants, sandbox,
audit record), and everything else is the engine: building the agent, minting the run's token,
opening its MCP session, recording each step's events (one commit each), limits and status.

Three clocks: the whole run (claim to finish, `RunEngine._run`), time inside the model function,
and time inside the tool calls (a wrapper around the run's MCP toolset: the client's view of
one call through `/mcp`). Engine time = run - model - tools, per step; the ratio divides it by
the mean tool call. Runs go one at a time; the first (sandbox start, cold caches) is a warm-up.

Usage: python benchmarks/agent_overhead.py [--quick]   (`--quick`: a few short runs; a smoke test)
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.toolsets import WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_overhead import accounts, build_wheel, publish_calculator
from harness import free_port

from agents.publishing import publish_agent
from agents.runs.engine import RunEngine
from agents.spec import agent_from_dict
from registry.teams import ensure_user, get_team
from switchboard.app import create_app
from switchboard.serving import uvicorn_options
from switchboard.settings import Settings

AGENT = {
    "name": "bench-agent",
    "instructions": "Evaluate expressions.",
    "switchboard": {
        "title": "Bench",
        "summary": "Evaluates expressions, one step at a time",
        "version": "1.0.0",
        "prompt": "Evaluate 1+1 repeatedly.",
        "tools": ["calculator.evaluate"],
        "limits": {"requests": 1000, "tool_calls": 1000, "wall_time_seconds": 3600},
    },
}


@dataclass
class Clocks:
    model: float = 0.0
    tools: float = 0.0
    tool_calls: int = 0
    runs: dict[str, float] = field(default_factory=dict)

    def reset(self) -> None:
        self.model = self.tools = 0.0
        self.tool_calls = 0


@dataclass
class TimedToolset(WrapperToolset[Any]):
    clocks: Clocks = field(default_factory=Clocks)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: Any, tool: ToolsetTool[Any]
    ) -> Any:
        started = time.perf_counter()
        try:
            return await super().call_tool(name, tool_args, ctx, tool)
        finally:
            self.clocks.tools += time.perf_counter() - started
            self.clocks.tool_calls += 1


def scripted(steps: int, clocks: Clocks) -> FunctionModel:
    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        started = time.perf_counter()
        done = sum(1 for m in messages for p in m.parts if isinstance(p, ToolCallPart))
        if done < steps:
            answer = ModelResponse(
                parts=[ToolCallPart("calculator.evaluate", {"expression": "1+1"})]
            )
        else:
            answer = ModelResponse(parts=[TextPart("2")])
        clocks.model += time.perf_counter() - started
        return answer

    return FunctionModel(respond)


def timed_runs(engine: RunEngine, clocks: Clocks) -> None:
    original: Callable[[str], Awaitable[None]] = engine._run

    async def run(run_id: str) -> None:
        started = time.perf_counter()
        await original(run_id)
        clocks.runs[run_id] = time.perf_counter() - started

    setattr(engine, "_run", run)  # noqa: B010 (the instance's own clock, for this benchmark)


async def launch_and_wait(user: httpx.AsyncClient, clocks: Clocks) -> str:
    launched = await user.post("/api/v1/agents/bench-agent/runs", json={"answers": {}})
    launched.raise_for_status()
    run_id = str(launched.json()["id"])
    while run_id not in clocks.runs:
        await asyncio.sleep(0.005)
    status = (await user.get(f"/api/v1/runs/{run_id}")).json()
    if status["status"] != "succeeded":
        raise RuntimeError(f"the benchmark run did not succeed: {status}")
    return run_id


async def main(quick: bool) -> int:
    runs, steps = (3, 5) if quick else (11, 20)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        wheels = tmp / "wheels"
        await asyncio.to_thread(build_wheel, wheels)
        port = free_port()
        settings = Settings(
            data_dir=tmp / "data",
            database_url=None,
            public_url=f"http://127.0.0.1:{port}",
            port=port,
            wheelhouse=wheels,
            sandbox_pool_size=0,
            rate_limit_per_caller=0,
            sandbox_owner=f"bench-{uuid.uuid4().hex[:10]}",
            log_level="warning",
        )
        app = create_app(settings)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                ws="none",
                lifespan="on",
                **{**uvicorn_options(settings), "log_level": "warning"},
            )
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            try:
                while not server.started:
                    if serving.done():
                        serving.result()
                    await asyncio.sleep(0.05)
                return await measure(app, settings, runs, steps)
            finally:
                server.should_exit = True
                await serving


async def measure(app: Any, settings: Settings, runs: int, steps: int) -> int:
    services = app.state.services
    admin_token, _ = await accounts(services)
    async with httpx.AsyncClient(
        base_url=settings.effective_public_url,
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=120,
    ) as admin:
        await publish_calculator(admin, settings.default_team)
        async with services.transaction() as session:
            await publish_agent(
                session,
                agent_from_dict(AGENT),
                team=await get_team(session, settings.default_team),
                actor=await ensure_user(session, "root"),
            )
        clocks = Clocks()
        engine: RunEngine = app.state.runs
        engine.model_for = lambda alias, attribution: scripted(steps, clocks)
        engine.wrap_toolset = lambda toolset: TimedToolset(toolset, clocks)
        timed_runs(engine, clocks)
        per_step, tool_call = [], []
        for index in range(runs):
            clocks.reset()
            run_id = await launch_and_wait(admin, clocks)
            if index == 0:
                continue  # warm-up: the sandbox starts, caches fill
            engine_time = clocks.runs[run_id] - clocks.model - clocks.tools
            per_step.append(engine_time / steps)
            tool_call.append(clocks.tools / clocks.tool_calls)
    engine_ms = statistics.median(per_step) * 1000
    tool_ms = statistics.median(tool_call) * 1000
    print(f"agent run engine overhead: {runs - 1} runs of {steps} steps (1 tool call each)")
    print(f"{'':24}{'ms/step':>10}")
    print(f"{'engine (own time)':24}{engine_ms:>10.2f}")
    print(f"{'tool call via /mcp':24}{tool_ms:>10.2f}")
    print(f"engine/tool call ratio: {engine_ms / tool_ms:.2f}x")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few short runs (smoke test)")
    sys.exit(asyncio.run(main(parser.parse_args().quick)))
