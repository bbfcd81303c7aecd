"""Telemetry of real `tools/call`s through `/mcp`: each reaches an OTLP collector on loopback as
a span, and `/metrics` counts it, times it and tells sandbox starts from reuses."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.toolhost.conftest import HostedFactory
from tests.otlp_collector import Collector, running_collector
from toolhost.telemetry import Telemetry

pytestmark = pytest.mark.docker


@pytest.fixture
def collector() -> Iterator[Collector]:
    with running_collector() as receiver:
        yield receiver


def value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


async def test_calls_are_traced_and_counted(hosted: HostedFactory, collector: Collector) -> None:
    async with hosted(otel_exporter_otlp_endpoint=collector.url) as world:
        async with (
            httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {world.token}"}, timeout=60
            ) as http,
            Client(streamable_http_client(world.server.mcp_url, http_client=http)) as client,
        ):
            for expression in ("6 * 7", "1 + 1"):
                result = await client.call_tool("calculator.evaluate", {"expression": expression})
                assert not result.is_error
            hung = await client.call_tool("hostile.spin", {})
            assert hung.is_error

        scraped = await world.admin.get("/metrics")
        assert scraped.status_code == 200, scraped.text
        text = scraped.text
        evaluate = {"server": "calculator", "tool": "evaluate"}
        assert value(text, "switchboard_tool_calls_total", **evaluate, outcome="ok") == 2
        assert value(text, "switchboard_tool_call_duration_seconds_count", **evaluate) == 2
        spin = {"server": "hostile", "tool": "spin"}
        assert value(text, "switchboard_tool_calls_total", **spin, outcome="error") == 1
        timeouts = {**spin, "error_class": "SandboxTimeoutError"}
        assert value(text, "switchboard_tool_call_errors_total", **timeouts) == 1
        started = value(
            text, "switchboard_sandbox_acquisitions_total", server="calculator", sandbox="started"
        )
        reused = value(
            text, "switchboard_sandbox_acquisitions_total", server="calculator", sandbox="reused"
        )
        assert started >= 1
        assert started + reused == 2
        families = {family.name for family in text_string_to_metric_families(text)}
        assert "switchboard_sandbox_pool_idle" in families

        telemetry: Telemetry = world.server.app.state.telemetry
        assert await anyio.to_thread.run_sync(telemetry.tracer_provider.force_flush)

    spans = {span.name: span for span in collector.spans()}
    span = spans["tools/call calculator.evaluate"]
    assert span.kind == span.SPAN_KIND_SERVER
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes["mcp.method.name"].string_value == "tools/call"
    assert attributes["gen_ai.tool.name"].string_value == "calculator.evaluate"
    assert attributes["enduser.id"].string_value == "dana"
    assert attributes["switchboard.outcome"].string_value == "ok"
    assert attributes["switchboard.sandbox.started"].HasField("bool_value")
    assert "6 * 7" not in str(span), "arguments stay out of traces"
    failed = spans["tools/call hostile.spin"]
    assert failed.status.code == failed.status.STATUS_CODE_ERROR
    errors = {a.key: a.value.string_value for a in failed.attributes}
    assert errors["error.type"] == "SandboxTimeoutError"
