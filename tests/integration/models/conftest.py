"""A running model layer on the test database, and fake providers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents.models.layer import ModelLayer
from switchboard.services import Services
from tests.integration.models.model_fakes import Fake, free_port, serving


class FakeLocal:
    """Stands in for the local model's supervisor: the embedded model's URL is a fake's."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def base_url(self) -> str:
        return self.url


@pytest.fixture
def fake() -> Fake:
    return Fake()


@pytest.fixture
def provider_url(fake: Fake) -> Iterator[str]:
    with serving(fake.app()) as url:
        yield url


@pytest.fixture
def dead_url() -> str:
    """A loopback port nothing listens on: connections are refused."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def layer(
    services: Services, provider_url: str, spans: InMemorySpanExporter
) -> AsyncIterator[ModelLayer]:
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(spans))
    models = ModelLayer(
        services,
        tracing.get_tracer("tests"),
        local=FakeLocal(f"{provider_url}/ok/v1"),
        environ={"FAKE_KEY": "sk-test-123", "ANTHROPIC_KEY": "ak-test-456"},
    )
    async with models.running():
        yield models
    tracing.shutdown()


def openai(url: str, mode: str, **extra: Any) -> dict[str, Any]:
    """An `openai-compatible` deployment at the fake's `mode` path."""
    return {
        "provider": "openai-compatible",
        "model": f"fake-{mode}",
        "name": mode,
        "base_url": f"{url}/{mode}/v1",
        "api_key_env": "FAKE_KEY",
        "input_price": 1.0,
        "output_price": 2.0,
        **extra,
    }


def anthropic(url: str, mode: str, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "anthropic",
        "model": "claude-fake",
        "name": f"anthropic-{mode}",
        "base_url": f"{url}/{mode}",
        "api_key_env": "ANTHROPIC_KEY",
        **extra,
    }
