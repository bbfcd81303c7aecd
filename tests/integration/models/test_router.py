"""The router against real fake providers on loopback, each failing in its own way."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlmodel import select

from agents.models.errors import (
    AllDeploymentsFailedError,
    BudgetExceededError,
    TeamRateLimitError,
    UnknownModelError,
)
from agents.models.layer import ModelLayer
from agents.models.router import Attribution
from agents.models.tables import ModelUsage
from tests.integration.models.conftest import anthropic, openai
from tests.integration.models.model_fakes import Fake

WHO = Attribution(user="alice", team="research", run_id="run-1")


def chat(model: str = "smart", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


async def configure(layer: ModelLayer, deployments: list[dict[str, Any]], **knobs: Any) -> None:
    document = {"aliases": {"smart": {"deployments": deployments}}, "retries": 0, **knobs}
    await layer.store.replace(document, "tests")


async def usage_rows(layer: ModelLayer) -> list[ModelUsage]:
    async with layer.services.sessions() as session:
        return list((await session.exec(select(ModelUsage).order_by(ModelUsage.id))).all())


async def test_falls_back_past_down_slow_garbage_and_500(
    layer: ModelLayer, fake: Fake, provider_url: str, dead_url: str
) -> None:
    fake.slow_seconds = 3
    await configure(
        layer,
        [
            {**openai(dead_url, "down"), "name": "down"},
            openai(provider_url, "slow", timeout_seconds=0.5),
            openai(provider_url, "garbage"),
            openai(provider_url, "down500"),
            openai(provider_url, "ok"),
        ],
    )
    answer, outcome = await layer.router.complete(chat(), WHO)
    assert answer["choices"][0]["message"]["content"] == "hello from ok"
    assert outcome.deployment is not None
    assert outcome.deployment.label == "ok"
    assert fake.hits == {"slow": 1, "garbage": 1, "down500": 1, "ok": 1}
    assert fake.headers[-1]["authorization"] == "Bearer sk-test-123"
    (row,) = await usage_rows(layer)
    assert (row.deployment, row.user, row.team, row.run_id) == ("ok", "alice", "research", "run-1")
    assert (row.input_tokens, row.output_tokens, row.estimated) == (10, 5, False)
    assert row.cost == pytest.approx((10 * 1.0 + 5 * 2.0) / 1_000_000)


async def test_every_deployment_failing_names_each_failure(
    layer: ModelLayer, provider_url: str, dead_url: str
) -> None:
    await configure(layer, [openai(dead_url, "down"), openai(provider_url, "garbage")])
    with pytest.raises(AllDeploymentsFailedError) as failed:
        await layer.router.complete(chat(), WHO)
    message = str(failed.value)
    assert "down refused the connection" in message
    assert "garbage answered with a body that is not JSON" in message
    assert "sk-test" not in message
    assert await usage_rows(layer) == []


async def test_retries_honour_retry_after(layer: ModelLayer, fake: Fake, provider_url: str) -> None:
    await configure(layer, [openai(provider_url, "flaky")], retries=2, backoff_seconds=5)
    answer, _ = await layer.router.complete(chat(), WHO)
    assert answer["choices"][0]["message"]["content"] == "hello from flaky"
    first, second = fake.times["flaky"]
    assert 0.2 <= second - first < 2, "waited the 0.2 s Retry-After, not the 5 s backoff"


async def test_long_retry_after_falls_back_and_cools_down(
    layer: ModelLayer, fake: Fake, provider_url: str
) -> None:
    await configure(
        layer,
        [openai(provider_url, "limited"), openai(provider_url, "ok")],
        retries=3,
        cooldown_seconds=1,
    )
    await layer.router.complete(chat(), WHO)
    assert fake.hits == {"limited": 1, "ok": 1}, "a 30 s Retry-After is not waited for"
    await layer.router.complete(chat(), WHO)
    assert fake.hits == {"limited": 1, "ok": 2}, "cooling down for the Retry-After's 30 s"
    assert layer.router.cooling_down("limited")


async def test_cooldown_skips_a_failing_deployment_until_it_ends(
    layer: ModelLayer, fake: Fake, provider_url: str
) -> None:
    await configure(
        layer,
        [openai(provider_url, "down500"), openai(provider_url, "ok")],
        retries=1,
        backoff_seconds=0.01,
        cooldown_seconds=0.5,
    )
    await layer.router.complete(chat(), WHO)
    assert fake.hits == {"down500": 2, "ok": 1}, "one retry, then the fallback"
    await layer.router.complete(chat(), WHO)
    assert fake.hits == {"down500": 2, "ok": 2}, "skipped while cooling down"
    await asyncio.sleep(0.6)
    await layer.router.complete(chat(), WHO)
    assert fake.hits == {"down500": 4, "ok": 3}, "tried again once the cooldown ended"


async def test_context_overflow_falls_back_without_retry_or_cooldown(
    layer: ModelLayer, fake: Fake, provider_url: str
) -> None:
    await configure(
        layer,
        [
            openai(provider_url, "overflow"),
            anthropic(provider_url, "overflow"),
            anthropic(provider_url, "ok"),
        ],
        retries=3,
    )
    for _ in range(2):
        answer, _ = await layer.router.complete(chat(), WHO)
        assert answer["choices"][0]["message"]["content"] == "hello from anthropic ok"
    assert fake.hits == {"overflow": 4, "ok": 2}
    assert not layer.router.cooling_down("overflow")


async def test_anthropic_translation_and_usage(
    layer: ModelLayer, fake: Fake, provider_url: str
) -> None:
    await configure(layer, [anthropic(provider_url, "ok", input_price=3, output_price=15)])
    request = chat(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "what time is it?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "now", "arguments": '{"tz": "UTC"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "12:00"},
        ],
        tools=[{"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}],
        tool_choice="required",
        max_tokens=100,
    )
    answer, outcome = await layer.router.complete(request, WHO)
    sent, headers = fake.bodies[-1], fake.headers[-1]
    assert headers["x-api-key"] == "ak-test-456"
    assert headers["anthropic-version"]
    assert sent["system"] == "be brief"
    assert sent["max_tokens"] == 100
    assert sent["tool_choice"] == {"type": "any"}
    assert sent["messages"][1]["content"][0] == {
        "type": "tool_use",
        "id": "t1",
        "name": "now",
        "input": {"tz": "UTC"},
    }
    assert sent["messages"][2]["content"][0]["type"] == "tool_result"
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"] == {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
    assert outcome.cost == pytest.approx((12 * 3 + 7 * 15) / 1_000_000)


async def test_azure_openai_url_and_key(layer: ModelLayer, fake: Fake, provider_url: str) -> None:
    deployment = {
        "provider": "azure-openai",
        "model": "gpt-prod",
        "base_url": f"{provider_url}/ok",
        "api_key_secret": "azure-key",
    }
    await layer.store.set_secret("azure-key", "az-secret-789", "tests")
    await configure(layer, [deployment])
    await layer.router.complete(chat(), WHO)
    assert fake.headers[-1]["api-key"] == "az-secret-789"
    assert "authorization" not in fake.headers[-1]


async def test_streaming_passes_chunks_through_and_accounts(
    layer: ModelLayer, provider_url: str
) -> None:
    await configure(layer, [openai(provider_url, "ok")])
    stream = await layer.router.stream(chat(stream=True), WHO)
    raw = b"".join([part async for part in stream])
    events = [line for line in raw.decode().split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert '"content":" stream"' in raw.decode()
    assert '"usage"' not in raw.decode(), "the usage chunk only goes to clients that ask"
    (row,) = await usage_rows(layer)
    assert (row.input_tokens, row.output_tokens, row.streamed) == (10, 5, True)


async def test_anthropic_stream_becomes_openai_chunks(layer: ModelLayer, provider_url: str) -> None:
    await configure(layer, [openai(provider_url, "down500"), anthropic(provider_url, "ok")])
    body = chat(stream=True, stream_options={"include_usage": True})
    stream = await layer.router.stream(body, WHO)
    raw = b"".join([part async for part in stream]).decode()
    assert '"content":"hello"' in raw
    assert '"content":" anthropic"' in raw
    assert '"finish_reason":"stop"' in raw
    assert '"prompt_tokens":12' in raw
    (row,) = await usage_rows(layer)
    assert (row.deployment, row.input_tokens, row.output_tokens) == ("anthropic-ok", 12, 7)


async def test_stream_falls_back_before_the_first_chunk(
    layer: ModelLayer, fake: Fake, provider_url: str, dead_url: str
) -> None:
    await configure(
        layer,
        [openai(dead_url, "down"), openai(provider_url, "limited"), openai(provider_url, "ok")],
    )
    stream = await layer.router.stream(chat(stream=True), WHO)
    raw = b"".join([part async for part in stream]).decode()
    assert "hello" in raw
    assert fake.hits == {"limited": 1, "ok": 1}


async def test_budget_stops_the_team(layer: ModelLayer, provider_url: str) -> None:
    await configure(layer, [openai(provider_url, "ok")], teams={"research": {"budget": 0.00001}})
    await layer.router.complete(chat(), WHO)
    with pytest.raises(
        BudgetExceededError, match=re.escape("team `research` has spent 0.0000 of its 1e-05")
    ):
        await layer.router.complete(chat(), WHO)
    other = Attribution(user="bob", team="default")
    await layer.router.complete(chat(), other)
    assert len(await usage_rows(layer)) == 2


async def test_requests_and_tokens_per_minute(layer: ModelLayer, provider_url: str) -> None:
    await configure(
        layer,
        [openai(provider_url, "ok")],
        teams={"research": {"rpm": 2}, "ops": {"tpm": 10}},
    )
    for _ in range(2):
        await layer.router.complete(chat(), WHO)
    with pytest.raises(TeamRateLimitError, match="2 model requests per minute") as limited:
        await layer.router.complete(chat(), WHO)
    assert 0 < (limited.value.retry_after or 0) <= 60
    ops = Attribution(user="carol", team="ops")
    await layer.router.complete(chat(), ops)
    with pytest.raises(TeamRateLimitError, match="10 model tokens per minute"):
        await layer.router.complete(chat(), ops)


async def test_default_alias_is_the_local_model(layer: ModelLayer, fake: Fake) -> None:
    answer, outcome = await layer.router.complete(chat("default"), WHO)
    assert answer["choices"][0]["message"]["content"] == "hello from ok"
    assert outcome.deployment is not None
    assert outcome.deployment.provider == "local"
    with pytest.raises(UnknownModelError, match="the aliases are: default"):
        await layer.router.complete(chat("nope"), WHO)


async def test_gen_ai_spans(
    layer: ModelLayer, provider_url: str, spans: InMemorySpanExporter
) -> None:
    await configure(layer, [openai(provider_url, "down500"), anthropic(provider_url, "ok")])
    await layer.router.complete(chat(), WHO)
    finished = {span.name: span for span in spans.get_finished_spans()}
    routed = finished["chat smart"].attributes or {}
    assert routed["gen_ai.operation.name"] == "chat"
    assert routed["gen_ai.usage.input_tokens"] == 12
    failed = finished["chat fake-down500"].attributes or {}
    assert failed["error.type"] == "server_error"
    assert failed["gen_ai.provider.name"] == "openai"
    answered = finished["chat claude-fake"].attributes or {}
    assert answered["gen_ai.provider.name"] == "anthropic"
    assert answered["gen_ai.usage.output_tokens"] == 7
