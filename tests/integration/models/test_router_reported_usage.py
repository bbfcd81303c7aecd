"""Usage a provider reports that cannot be true (negative, not a whole number): it is not charged as
reported, since a negative cost would lower the team's spending and lift its budget; the tokens
are estimated from the text instead, as for a provider that reports none."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agents.models.errors import BudgetExceededError
from agents.models.layer import ModelLayer
from agents.models.router import Attribution
from tests.integration.models.conftest import anthropic, openai
from tests.integration.models.model_fakes import serving
from tests.integration.models.test_router import chat, configure, usage_rows

WHO = Attribution(user="alice", team="research", run_id="run-1")
REPORTED: dict[str, Any] = {}
"""What the provider below reports as usage, set by each test."""


async def openai_answer(request: Request) -> Response:
    body = await request.json()
    message = {"role": "assistant", "content": "forty-two"}
    return JSONResponse(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": REPORTED,
        }
    )


async def anthropic_answer(request: Request) -> Response:
    body = await request.json()
    if body.get("stream"):
        return StreamingResponse(anthropic_events(body), media_type="text/event-stream")
    return JSONResponse(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "forty-two"}],
            "stop_reason": "end_turn",
            "usage": REPORTED,
        }
    )


async def anthropic_events(body: dict[str, Any]) -> AsyncIterator[bytes]:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"model": body["model"], "usage": REPORTED}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": REPORTED},
        {"type": "message_stop"},
    ]
    for event in events:
        yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


@pytest.fixture
def liar() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/openai/v1/chat/completions", openai_answer, methods=["POST"]),
            Route("/anthropic/v1/messages", anthropic_answer, methods=["POST"]),
        ]
    )
    with serving(app) as url:
        yield url


@pytest.mark.parametrize(
    "reported",
    [
        {"prompt_tokens": -1_000_000, "completion_tokens": 5},
        {"prompt_tokens": 10, "completion_tokens": -7},
        {"prompt_tokens": True, "completion_tokens": 5},
    ],
)
async def test_impossible_openai_usage_is_estimated(
    layer: ModelLayer, liar: str, reported: dict[str, Any]
) -> None:
    REPORTED.clear()
    REPORTED.update(reported)
    await configure(layer, [openai(liar, "openai")], teams={"research": {"budget": 0.000001}})
    await layer.router.complete(chat(), WHO)
    (row,) = await usage_rows(layer)
    assert row.estimated
    assert row.input_tokens >= 0
    assert row.output_tokens > 0
    assert row.cost > 0
    with pytest.raises(BudgetExceededError, match="team `research` has spent"):
        await layer.router.complete(chat(), WHO)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "reported",
    [
        {"input_tokens": -1_000_000, "output_tokens": 3},
        {"input_tokens": 4, "output_tokens": "many"},
    ],
)
async def test_impossible_anthropic_usage_is_estimated(
    layer: ModelLayer, liar: str, reported: dict[str, Any], stream: bool
) -> None:
    REPORTED.clear()
    REPORTED.update(reported)
    await configure(layer, [anthropic(liar, "anthropic", input_price=1.0, output_price=2.0)])
    if stream:
        routed = await layer.router.stream(chat(stream=True), WHO)
        lines = [line async for line in routed]
        assert lines[-1] == b"data: [DONE]\n\n"
        assert b"error" not in b"".join(lines)
    else:
        await layer.router.complete(chat(), WHO)
    (row,) = await usage_rows(layer)
    assert row.input_tokens >= 0
    assert row.output_tokens >= 0
    assert row.cost >= 0
