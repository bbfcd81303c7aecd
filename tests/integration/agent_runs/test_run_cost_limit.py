"""An agent's cost limit, from what the routed model layer charged the run: the model is a fake
OpenAI-compatible provider on loopback (reporting its token usage, priced in the model file) that
never stops asking for a tool; the run stops before the request that would go over."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agents.models.tables import ModelUsage
from agents.runs.model_seam import routed_models
from tests.integration.agent_runs.conftest import WorldFactory, agent_document, publish
from tests.integration.agent_runs.test_run_engine import audit_records
from tests.integration.models.model_fakes import serving

pytestmark = pytest.mark.docker

USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
"""At 10 per million input tokens and 20 per million output tokens: 0.02 a request."""


class Looping:
    """A provider whose every answer is one more `calculator.evaluate` call."""

    def __init__(self) -> None:
        self.requests = 0

    async def complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests += 1
        call = {
            "id": f"call_{self.requests}",
            "type": "function",
            "function": {
                "name": "calculator.evaluate",
                "arguments": json.dumps({"expression": f"{self.requests} * 2"}),
            },
        }
        return JSONResponse(
            {
                "id": f"chatcmpl-{self.requests}",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                        "finish_reason": "tool_calls",
                    }
                ],
                "usage": USAGE,
            }
        )


@pytest.fixture
def provider() -> Iterator[tuple[Looping, str]]:
    looping = Looping()
    app = Starlette(routes=[Route("/v1/chat/completions", looping.complete, methods=["POST"])])
    with serving(app) as url:
        yield looping, url


async def test_a_run_stops_at_its_cost_limit_with_its_history_kept(
    world: WorldFactory, provider: tuple[Looping, str], tmp_path: Path
) -> None:
    looping, url = provider
    models_file = tmp_path / "models.yaml"
    deployment = {
        "provider": "openai-compatible",
        "model": "fake-looper",
        "base_url": f"{url}/v1",
        "input_price": 10.0,
        "output_price": 20.0,
    }
    models_file.write_text(yaml.safe_dump({"aliases": {"default": {"deployments": [deployment]}}}))
    async with world(models_file=models_file) as w:
        w.engine.model_for, _ = routed_models(w.server.app.state.models)
        limits = {"cost": 0.05, "requests": 20, "tool_calls": 20}
        await publish(w.server, agent_document("spender", limits=limits, tools=["calculator"]))

        run = await w.launch("spender", {"expression": "2"})
        done = await w.wait(run["id"], "succeeded", "failed")
        assert done["status"] == "failed", done
        assert done["reason"] == (
            "stopped at a limit of the agent: cost limit of 0.05 reached (spent 0.06)"
        )
        assert looping.requests == 3, "no request once the spending reached the limit"

        events = await w.events(run["id"])
        results = [e for e in events if e["kind"] == "tool_result"]
        values = [json.loads(e["content"])["value"] for e in results]
        assert values == [2, 4, 6], "the partial history is kept"
        assert [e["kind"] for e in events[-2:]] == ["error", "status"]
        assert events[-2]["message"] == done["reason"]
        assert len(await audit_records(w, "tool.call")) == 3
        (finished,) = await audit_records(w, "agent.run.finish")
        assert finished.detail["reason"] == done["reason"]

        async with w.server.services.sessions() as session:
            charged = (
                await session.exec(select(ModelUsage).where(col(ModelUsage.run_id) == run["id"]))
            ).all()
        assert [(u.user, u.input_tokens, u.output_tokens) for u in charged] == [
            ("uma", 1000, 500)
        ] * 3
        assert sum(u.cost for u in charged) == pytest.approx(0.06)
