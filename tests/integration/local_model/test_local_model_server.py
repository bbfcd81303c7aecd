"""The embedded default model: llama.cpp's server supervised by `LocalModelServer`, answering the
OpenAI wire format with real completions from SmolLM2-135M-Instruct."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from agents.local_model import MODEL_NAME, LocalModelServer, LocalModelUnavailableError

pytestmark = pytest.mark.local_model

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city's name."}},
            "required": ["city"],
        },
    },
}


async def chat(base_url: str, **body: Any) -> dict[str, Any]:
    async with httpx2.AsyncClient(base_url=base_url, timeout=120) as http:
        response = await http.post("/chat/completions", json={"model": MODEL_NAME, **body})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_chat_completion_with_usage(
    local_model: LocalModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agents.local_model")
    base_url = await local_model.base_url()
    assert base_url.startswith("http://127.0.0.1:")
    assert base_url.endswith("/v1")

    async with httpx2.AsyncClient(base_url=base_url, timeout=30) as http:
        models = (await http.get("/models")).json()
    assert [model["id"] for model in models["data"]] == [MODEL_NAME]

    answer = await chat(
        base_url,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=12,
        temperature=0,
    )
    choice = answer["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert "Paris" in choice["message"]["content"]
    assert choice["finish_reason"] in ("stop", "length")
    usage = answer["usage"]
    assert usage["prompt_tokens"] > 5
    assert 0 < usage["completion_tokens"] <= 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # The child's output reaches Switchboard's log.
    assert any("Uvicorn running" in record.getMessage() for record in caplog.records)


async def test_base_url_is_stable_and_shared(local_model: LocalModelServer) -> None:
    """Concurrent first uses start one server, not one each."""
    urls: list[str] = []

    async def ask() -> None:
        urls.append(await local_model.base_url())

    async with anyio.create_task_group() as tasks:
        for _ in range(4):
            tasks.start_soon(ask)
    assert len(set(urls)) == 1
    assert await local_model.base_url() == urls[0]


async def test_killed_server_is_restarted(local_model: LocalModelServer) -> None:
    first = await local_model.base_url()
    pid = local_model.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with anyio.fail_after(10):
        while local_model.pid is not None:
            await anyio.sleep(0.05)

    second = await local_model.base_url()
    assert local_model.pid not in (None, pid)
    assert second != first or local_model.pid != pid
    answer = await chat(
        second, messages=[{"role": "user", "content": "Say hello."}], max_tokens=4, temperature=0
    )
    assert answer["usage"]["completion_tokens"] > 0


async def test_aclose_stops_the_server(gguf: Path) -> None:
    server = LocalModelServer(model_path=gguf, context=2048)
    async with server:
        await server.base_url()
        pid = server.pid
        assert pid is not None
    assert server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_missing_gguf_says_what_to_do(tmp_path: Path) -> None:
    server = LocalModelServer(model_path=tmp_path / "missing.gguf")
    with pytest.raises(LocalModelUnavailableError, match="SWITCHBOARD_LOCAL_MODEL_PATH") as caught:
        await server.base_url()
    assert "missing.gguf" in str(caught.value)
    assert server.pid is None


async def test_file_that_is_not_a_model_fails_with_the_servers_output(
    gguf: Path, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"this is not a GGUF file\n" * 100)
    async with LocalModelServer(model_path=garbage) as server:
        with pytest.raises(LocalModelUnavailableError, match="exited with code") as caught:
            await server.base_url()
    assert "Its last output" in str(caught.value)
    assert server.pid is None


async def test_turned_off() -> None:
    server = LocalModelServer(enabled=False)
    with pytest.raises(LocalModelUnavailableError, match="SWITCHBOARD_LOCAL_MODEL_ENABLED"):
        await server.base_url()


@pytest.mark.parametrize(
    "tool_choice",
    ["auto", {"type": "function", "function": {"name": "get_weather"}}],
    ids=["auto", "named"],
)
async def test_tool_call(local_model: LocalModelServer, tool_choice: object) -> None:
    """The `chatml-function-calling` format lets SmolLM2 call tools: a grammar makes it choose
    between a message and one of the tools, then write arguments matching the tool's schema."""
    answer = await chat(
        await local_model.base_url(),
        messages=[
            {"role": "system", "content": "You answer weather questions with the tools."},
            {"role": "user", "content": "What is the weather in Paris?"},
        ],
        tools=[WEATHER_TOOL],
        tool_choice=tool_choice,
        max_tokens=64,
        temperature=0,
    )
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert answer["usage"]["completion_tokens"] > 0
