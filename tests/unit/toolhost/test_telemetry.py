"""Tool-call telemetry: the span each call gets, the metrics it moves, and a real OTLP export."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from switchboard.settings import Settings
from tests.otlp_collector import Collector, running_collector
from toolhost import telemetry as telemetry_module
from toolhost.telemetry import Telemetry, traces_url

CALLS = "switchboard_tool_calls_total"
ERRORS = "switchboard_tool_call_errors_total"
DURATION = "switchboard_tool_call_duration_seconds"
SANDBOXES = "switchboard_sandbox_acquisitions_total"


class SandboxTimeoutError(Exception):
    pass


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def telemetry(settings: Settings) -> Iterator[Telemetry]:
    observed = Telemetry(settings)
    yield observed
    observed.shutdown()


@pytest.fixture
def spans(telemetry: Telemetry) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    telemetry.export_to(SimpleSpanProcessor(exporter))
    return exporter


def one_span(spans: InMemorySpanExporter) -> ReadableSpan:
    finished = spans.get_finished_spans()
    assert len(finished) == 1
    return finished[0]


def sample(telemetry: Telemetry, name: str, **labels: str) -> float | None:
    return telemetry.registry.get_sample_value(name, labels)


def call(telemetry: Telemetry, tool: str = "convert_time") -> telemetry_module.CallObservation:
    return telemetry.call(server="time", tool=tool, caller="alice", on_behalf_of=None, client=None)


def test_a_call_is_a_server_span_named_by_the_mcp_conventions(
    telemetry: Telemetry, spans: InMemorySpanExporter
) -> None:
    with telemetry.call(
        server="time",
        tool="convert_time",
        caller="agent-run-7",
        on_behalf_of="bob",
        client="vscode",
        request_id=3,
        session_id="s-1",
        protocol_version="2025-11-25",
    ) as observation:
        observation.sandbox(started=True)
        observation.outcome("ok")
    span = one_span(spans)
    assert span.name == "tools/call time.convert_time"
    assert span.kind is SpanKind.SERVER
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "mcp.method.name": "tools/call",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "time.convert_time",
        "switchboard.server": "time",
        "switchboard.tool": "convert_time",
        "enduser.id": "agent-run-7",
        "switchboard.on_behalf_of": "bob",
        "switchboard.client": "vscode",
        "jsonrpc.request.id": "3",
        "mcp.session.id": "s-1",
        "mcp.protocol.version": "2025-11-25",
        "switchboard.sandbox.started": True,
        "switchboard.outcome": "ok",
    }
    assert span.resource.attributes["service.name"] == "switchboard"


def test_absent_optional_attributes_are_left_out(
    telemetry: Telemetry, spans: InMemorySpanExporter
) -> None:
    with call(telemetry):
        pass
    attributes = one_span(spans).attributes or {}
    assert "switchboard.on_behalf_of" not in attributes
    assert "switchboard.client" not in attributes
    assert "switchboard.sandbox.started" not in attributes
    assert attributes["switchboard.outcome"] == "ok"


def test_an_escaping_exception_marks_the_span_an_error_without_its_message(
    telemetry: Telemetry, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(SandboxTimeoutError), call(telemetry):
        raise SandboxTimeoutError("token=hunter2 leaked into a message")
    span = one_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert not span.status.description
    assert span.attributes is not None
    assert span.attributes["error.type"] == "SandboxTimeoutError"
    assert span.attributes["switchboard.outcome"] == "error"
    assert not span.events, "exception events would carry the message"
    labels = {"server": "time", "tool": "convert_time"}
    assert sample(telemetry, CALLS, **labels, outcome="error") == 1
    assert (
        sample(
            telemetry,
            ERRORS,
            **labels,
            error_class="SandboxTimeoutError",
        )
        == 1
    )


def test_a_reported_error_keeps_its_class_and_a_denial_is_not_a_server_error(
    telemetry: Telemetry, spans: InMemorySpanExporter
) -> None:
    with call(telemetry) as observation:
        observation.outcome("error", "OutputSchemaError")
    with call(telemetry) as observation:
        observation.outcome("denied", "InsufficientScopeError")
    with call(telemetry) as observation:
        observation.outcome("error")
    errored, denied, unnamed = spans.get_finished_spans()
    assert errored.status.status_code is StatusCode.ERROR
    assert (errored.attributes or {})["error.type"] == "OutputSchemaError"
    assert denied.status.status_code is StatusCode.UNSET
    assert (denied.attributes or {})["error.type"] == "InsufficientScopeError"
    assert (unnamed.attributes or {})["error.type"] == "unknown"
    labels = {"server": "time", "tool": "convert_time"}
    assert sample(telemetry, CALLS, **labels, outcome="error") == 2
    assert sample(telemetry, CALLS, **labels, outcome="denied") == 1
    for error_class in ("OutputSchemaError", "InsufficientScopeError", "unknown"):
        errors = sample(telemetry, ERRORS, **labels, error_class=error_class)
        assert errors == 1, error_class


async def test_a_cancelled_call_is_counted_as_cancelled_not_as_an_error(
    telemetry: Telemetry, spans: InMemorySpanExporter
) -> None:
    async def slow() -> None:
        with call(telemetry):
            await asyncio.sleep(10)

    task = asyncio.create_task(slow())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = one_span(spans)
    assert span.status.status_code is StatusCode.UNSET
    assert (span.attributes or {})["switchboard.outcome"] == "cancelled"
    labels = {"server": "time", "tool": "convert_time", "outcome": "cancelled"}
    assert sample(telemetry, CALLS, **labels) == 1


def test_work_inside_a_call_is_traced_as_its_child(
    telemetry: Telemetry, spans: InMemorySpanExporter
) -> None:
    with call(telemetry):
        telemetry.tracer.start_span("sandbox lease").end()
    child, parent = spans.get_finished_spans()
    assert parent.context is not None
    assert child.parent is not None
    assert child.parent.span_id == parent.context.span_id


def test_metrics_count_calls_time_them_and_count_sandbox_starts_and_reuses(
    telemetry: Telemetry,
) -> None:
    for started in (True, False, False):
        with call(telemetry) as observation:
            observation.sandbox(started=started)
            observation.outcome("ok")
    with call(telemetry, tool="get_current_time") as observation:
        time.sleep(0.02)
        observation.outcome("ok")
    labels = {"server": "time", "tool": "convert_time"}
    assert sample(telemetry, CALLS, **labels, outcome="ok") == 3
    assert sample(telemetry, DURATION + "_count", **labels) == 3
    slow = {"server": "time", "tool": "get_current_time"}
    duration = sample(telemetry, DURATION + "_sum", **slow)
    assert duration is not None
    assert 0.02 <= duration < 1
    assert sample(telemetry, DURATION + "_bucket", **slow, le="0.01") == 0
    assert sample(telemetry, DURATION + "_bucket", **slow, le="1.0") == 1
    assert sample(telemetry, SANDBOXES, server="time", sandbox="started") == 1
    assert sample(telemetry, SANDBOXES, server="time", sandbox="reused") == 2


def test_without_an_exporter_spans_are_not_recorded_but_metrics_move(
    telemetry: Telemetry,
) -> None:
    with call(telemetry) as observation:
        assert not trace.get_current_span().is_recording()
        observation.outcome("ok")
    assert not telemetry.exporting
    assert not telemetry.tracer_named("switchboard.models").start_span("x").is_recording()
    labels = {"server": "time", "tool": "convert_time"}
    assert sample(telemetry, CALLS, **labels, outcome="ok") == 1
    assert sample(telemetry, DURATION + "_count", **labels) == 1


def test_duration_buckets_span_a_millisecond_to_a_minute(telemetry: Telemetry) -> None:
    with call(telemetry):
        pass
    text = generate_latest(telemetry.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    bounds = {s.labels["le"] for s in families[DURATION].samples if s.name.endswith("_bucket")}
    assert {"0.001", "0.01", "0.1", "1.0", "10.0", "60.0", "+Inf"} <= bounds


def test_pool_sizes_are_read_at_each_scrape(telemetry: Telemetry) -> None:
    sizes = {"time@1": 2}
    telemetry.pool_sizes(lambda: dict(sizes))
    assert sample(telemetry, "switchboard_sandbox_pool_idle", pool="time@1") == 2
    sizes["time@1"] = 0
    sizes["calc@3"] = 1
    assert sample(telemetry, "switchboard_sandbox_pool_idle", pool="time@1") == 0
    assert sample(telemetry, "switchboard_sandbox_pool_idle", pool="calc@3") == 1


def test_a_failing_pool_source_does_not_break_the_scrape(
    telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> dict[str, int]:
        raise RuntimeError("pool manager gone")

    telemetry.pool_sizes(broken)
    with call(telemetry):
        pass
    with caplog.at_level(logging.ERROR, logger="toolhost.telemetry"):
        text = generate_latest(telemetry.registry).decode()
    assert CALLS in text
    assert "pool sizes could not be read" in caplog.text


def test_unbounded_tool_names_fold_into_one_series(
    telemetry: Telemetry, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telemetry_module, "MAX_TOOL_SERIES", 2)
    for tool in ("a", "b", "c", "d"):
        with call(telemetry, tool=tool):
            pass
    assert sample(telemetry, CALLS, server="time", tool="b", outcome="ok")
    assert sample(telemetry, CALLS, server="_other", tool="_other", outcome="ok") == 2
    assert [s.name for s in spans.get_finished_spans()][-1] == "tools/call time.d"


def test_telemetries_do_not_share_state(settings: Settings, telemetry: Telemetry) -> None:
    other = Telemetry(settings)
    try:
        with call(telemetry):
            pass
        labels = {"server": "time", "tool": "convert_time", "outcome": "ok"}
        assert sample(other, CALLS, **labels) is None
        assert other.tracer_provider is not telemetry.tracer_provider
    finally:
        other.shutdown()


def test_observing_a_call_costs_microseconds(telemetry: Telemetry) -> None:
    """The gateway's whole added p50 budget is 3 ms; telemetry must be a sliver of it."""
    calls = 2000
    began = time.perf_counter()
    for _ in range(calls):
        with call(telemetry) as observation:
            observation.sandbox(started=False)
            observation.outcome("ok")
    per_call = (time.perf_counter() - began) / calls
    assert per_call < 0.0003, f"{per_call * 1e6:.0f} µs per call"


def test_the_collector_url_gets_the_traces_path_once() -> None:
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert traces_url("https://otel.example/v1/traces") == "https://otel.example/v1/traces"


def test_the_endpoint_setting_must_be_an_http_url(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="SWITCHBOARD_OTEL_EXPORTER_OTLP_ENDPOINT"):
        Settings(data_dir=tmp_path, otel_exporter_otlp_endpoint="collector:4318")


@pytest.fixture
def collector() -> Iterator[Collector]:
    with running_collector() as receiver:
        yield receiver


def test_spans_are_exported_over_otlp_http_protobuf(
    tmp_path: Path, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=k%201")
    settings = Settings(
        data_dir=tmp_path,
        otel_exporter_otlp_endpoint=collector.url,
        otel_service_name="switchboard-test",
    )
    telemetry = Telemetry(settings)
    with telemetry.call(
        server="time", tool="convert_time", caller="alice", on_behalf_of="bob", client="cli"
    ) as observation:
        observation.sandbox(started=False)
        observation.outcome("error", "SandboxTimeoutError")
    telemetry.shutdown()
    assert collector.received.wait(10), "no OTLP export arrived"

    path, headers, body = collector.requests[0]
    assert path == "/v1/traces"
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["x-collector-key"] == "k 1", "the standard OTEL_* variables apply"
    export = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = export.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "switchboard-test"
    (scope_spans,) = resource_spans.scope_spans
    assert scope_spans.scope.name == "switchboard.toolhost"
    (span,) = scope_spans.spans
    assert span.name == "tools/call time.convert_time"
    assert span.kind == span.SPAN_KIND_SERVER
    assert span.status.code == span.status.STATUS_CODE_ERROR
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes["mcp.method.name"].string_value == "tools/call"
    assert attributes["gen_ai.tool.name"].string_value == "time.convert_time"
    assert attributes["switchboard.server"].string_value == "time"
    assert attributes["enduser.id"].string_value == "alice"
    assert attributes["switchboard.on_behalf_of"].string_value == "bob"
    assert attributes["switchboard.sandbox.started"].bool_value is False
    assert attributes["error.type"].string_value == "SandboxTimeoutError"
    assert span.end_time_unix_nano >= span.start_time_unix_nano > 0


def test_without_the_setting_nothing_is_sent(
    settings: Settings, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only Switchboard's own setting turns export on, so an `OTEL_*` variable meant for
    another program in the same environment does not start sending spans."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    telemetry = Telemetry(settings)
    with call(telemetry):
        pass
    telemetry.shutdown()
    telemetry.shutdown()
    assert not collector.requests
