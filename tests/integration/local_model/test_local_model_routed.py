"""`/v1/chat/completions` with no provider configured: the `default` alias is answered by the
embedded llama.cpp server, which the app starts on first use, and the usage it reports is
accounted; an agent's tool loop reaches it in a form its chat format follows."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from agents.models.tables import ModelUsage

pytestmark = pytest.mark.local_model

CALCULATOR = {
    "type": "function",
    "function": {
        "name": "calculator.evaluate",
        "description": "Evaluate an arithmetic expression.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
    },
}
FINAL = {
    "type": "function",
    "function": {
        "name": "final_result",
        "description": "The final answer.",
        "parameters": {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
        },
    },
}


async def usage_rows(app: Starlette) -> list[ModelUsage]:
    async with app.state.services.sessions() as session:
        return list((await session.exec(select(ModelUsage))).all())


async def completion(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/chat/completions", json={"model": "default", **body}, timeout=180
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_default_is_answered_by_the_embedded_model_with_its_usage(
    gguf: object, app: Starlette, client: httpx.AsyncClient
) -> None:
    assert app.state.models.endpoints.local.pid is None, "not started before it is needed"
    answer = await completion(
        client,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=12,
        temperature=0,
    )
    assert app.state.models.endpoints.local.pid is not None
    assert "Paris" in answer["choices"][0]["message"]["content"]
    usage = answer["usage"]
    assert usage["prompt_tokens"] > 5
    assert 0 < usage["completion_tokens"] <= 12

    (row,) = await usage_rows(app)
    assert (row.alias, row.provider, row.user, row.team) == ("default", "local", "alice", "default")
    assert (row.input_tokens, row.output_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert not row.estimated

    streamed = await client.post(
        "/v1/chat/completions",
        json={
            "model": "default",
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 8,
            "stream": True,
        },
        timeout=180,
    )
    assert streamed.status_code == 200, streamed.text
    lines = [line for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.strip()
    rows = await usage_rows(app)
    assert len(rows) == 2
    assert rows[1].streamed
    assert rows[1].input_tokens > 0
    assert rows[1].output_tokens > 0, "llama.cpp reports no usage in streams: estimated"


async def test_a_tool_loop_reaches_the_embedded_model(
    gguf: object, app: Starlette, client: httpx.AsyncClient
) -> None:
    """What pydantic-ai sends on an agent's second turn: a tool call with null content, its
    result as a `tool` message, and `tool_choice: "required"`. llama.cpp's chatml format refuses
    the first and the last and would drop the result; adapted, it answers with a tool call."""
    answer = await completion(
        client,
        messages=[
            {"role": "system", "content": "You do arithmetic with the calculator tool."},
            {"role": "user", "content": "What is 6 * 7?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "calculator.evaluate",
                            "arguments": json.dumps({"expression": "6 * 7"}),
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": json.dumps({"value": 42})},
        ],
        tools=[CALCULATOR, FINAL],
        tool_choice="required",
        temperature=0,
    )
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    names = {call["function"]["name"] for call in choice["message"]["tool_calls"]}
    assert names <= {"calculator.evaluate", "final_result"}
    (row,) = await usage_rows(app)
    assert row.input_tokens > 100, "the tools and the result are in the prompt"
    assert row.output_tokens > 0


async def test_a_streamed_request_with_tools_is_answered_whole_and_replayed(
    gguf: object, app: Starlette, client: httpx.AsyncClient
) -> None:
    """llama.cpp cannot stream a reply whose choice between text and a tool is the model's;
    the router asks for it whole and streams it back as chunks."""
    streamed = await client.post(
        "/v1/chat/completions",
        json={
            "model": "default",
            "messages": [{"role": "user", "content": "What is 6 * 7? Use the calculator."}],
            "tools": [CALCULATOR],
            "stream": True,
            "temperature": 0,
            "max_tokens": 64,
        },
        timeout=180,
    )
    assert streamed.status_code == 200, streamed.text
    lines = [line for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    deltas = [c["choices"][0] for c in chunks if c["choices"]]
    assert all("error" not in c for c in chunks)
    said = "".join(d["delta"].get("content") or "" for d in deltas)
    calls = [call for d in deltas for call in d["delta"].get("tool_calls") or []]
    assert said.strip() or calls
    for call in calls:
        assert call["index"] == 0
        assert call["function"]["name"] == "calculator.evaluate"
    assert deltas[-1]["finish_reason"] in ("stop", "tool_calls", "length")
    (row,) = await usage_rows(app)
    assert row.streamed
    assert row.input_tokens > 0
