"""A trace span and Prometheus metrics for every tool call.

Each `Telemetry` owns its tracer provider and metrics registry (nothing global), so several apps
in one process, and tests reading spans from an in-memory exporter, never see each other's data.
Spans go to an OTLP/HTTP collector when `SWITCHBOARD_OTEL_EXPORTER_OTLP_ENDPOINT` is set, through
a batch processor whose thread does the sending; the call path only creates the span and bumps
cached metric children, a few microseconds per call. Without an exporter spans are not recorded
at all (a no-op tracer), and the metrics alone move.

Span attributes follow the OpenTelemetry MCP and GenAI conventions (`mcp.method.name`,
`gen_ai.tool.name`, `gen_ai.operation.name`, `error.type`, `enduser.id`), plus `switchboard.*`
for what they do not cover. No argument, result or exception message is recorded: those may hold
secrets, and spans leave the process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextvars import Token
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NoOpTracer, Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from switchboard.settings import Settings

logger = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""From a warm sandbox's millisecond answer to the longest call timeout worth telling apart."""
MAX_TOOL_SERIES = 5000
"""Distinct (server, tool) label pairs kept; later ones are counted under `OVERFLOW`, so a
client naming tools that do not exist cannot grow the registry without bound."""
OVERFLOW = "_other"
NO_TRACER = NoOpTracer()


def traces_url(endpoint: str) -> str:
    """The traces URL for a collector's base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` is read."""
    base = endpoint.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


class Telemetry:
    """The tracer and the metric instruments of one running app."""

    def __init__(self, settings: Settings) -> None:
        resource = Resource.create({"service.name": settings.otel_service_name})
        self.tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self._tracer = self.tracer_provider.get_tracer("switchboard.toolhost")
        self.exporting = False
        """Whether spans have anywhere to go; until then they are not recorded at all."""
        if settings.otel_exporter_otlp_endpoint is not None:
            exporter = OTLPSpanExporter(endpoint=traces_url(settings.otel_exporter_otlp_endpoint))
            self.export_to(BatchSpanProcessor(exporter))
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "switchboard_tool_calls",
            "Tool calls, by how they ended.",
            ("server", "tool", "outcome"),
            registry=self.registry,
        )
        self.errors = Counter(
            "switchboard_tool_call_errors",
            "Tool calls that failed, by the class of the failure.",
            ("server", "tool", "error_class"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "switchboard_tool_call_duration_seconds",
            "Time from a call's arrival at the toolhost to its answer.",
            ("server", "tool"),
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.sandboxes = Counter(
            "switchboard_sandbox_acquisitions",
            "Sandboxes tool calls ran in: `started` for the call, or `reused` from the pool.",
            ("server", "sandbox"),
            registry=self.registry,
        )
        self._pools = PoolSizes()
        self.registry.register(self._pools)
        self._series: dict[tuple[str, str], _Series] = {}
        self._closed = False

    def export_to(self, processor: SpanProcessor) -> None:
        """Send every span from now on to `processor` (the OTLP exporter, or a test's)."""
        self.tracer_provider.add_span_processor(processor)
        self.exporting = True

    @property
    def tracer(self) -> Tracer:
        """The toolhost's tracer; a no-op one while nothing exports, since recording a span
        nobody reads costs a tool call more than its metrics."""
        return self._tracer if self.exporting else NO_TRACER

    def tracer_named(self, name: str) -> Tracer:
        """A tracer for another part of the app, decided once: no-op unless exporting now."""
        return self.tracer_provider.get_tracer(name) if self.exporting else NO_TRACER

    def call(
        self,
        *,
        server: str,
        tool: str,
        caller: str,
        on_behalf_of: str | None,
        client: str | None,
        request_id: str | int | None = None,
        session_id: str | None = None,
        protocol_version: str | None = None,
    ) -> CallObservation:
        """Observe one `tools/call`: use it as `with telemetry.call(...) as observation:`.

        `server` and `tool` should name a catalogue entry (the server's slug and the tool's own
        name); `caller` and `on_behalf_of` are usernames, `client` an OAuth client ID.
        """
        qualified = f"{server}.{tool}"
        attributes: dict[str, AttributeValue] = {
            "mcp.method.name": "tools/call",
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": qualified,
            "switchboard.server": server,
            "switchboard.tool": tool,
            "enduser.id": caller,
        }
        optional = (
            ("switchboard.on_behalf_of", on_behalf_of),
            ("switchboard.client", client),
            ("jsonrpc.request.id", None if request_id is None else str(request_id)),
            ("mcp.session.id", session_id),
            ("mcp.protocol.version", protocol_version),
        )
        attributes.update((key, value) for key, value in optional if value is not None)
        return CallObservation(
            self, self.series(server, tool), f"tools/call {qualified}", attributes
        )

    def pool_sizes(self, source: Callable[[], dict[str, int]]) -> None:
        """Export `source()` (idle sandboxes per pool key) as a gauge, read at each scrape.

        It runs on the event loop during a scrape, so it must be quick and must not block; a
        later call replaces the earlier source.
        """
        self._pools.source = source

    def shutdown(self) -> None:
        """Send the spans still queued and stop the exporter; blocks up to the OTLP timeout,
        so async code runs it in a worker thread."""
        if not self._closed:
            self._closed = True
            self.tracer_provider.shutdown()

    def series(self, server: str, tool: str) -> _Series:
        key = (server, tool)
        found = self._series.get(key)
        if found is None:
            if len(self._series) >= MAX_TOOL_SERIES:
                key = (OVERFLOW, OVERFLOW)
                found = self._series.get(key)
            if found is None:
                found = self._series[key] = _Series(self, *key)
        return found


class CallObservation:
    """One tool call in flight: its span, its start time, and what the call path reported."""

    __slots__ = (
        "_attributes",
        "_error_class",
        "_name",
        "_outcome",
        "_series",
        "_span",
        "_start",
        "_telemetry",
        "_token",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        series: _Series,
        name: str,
        attributes: dict[str, AttributeValue],
    ) -> None:
        self._telemetry = telemetry
        self._series = series
        self._name = name
        self._attributes = attributes
        self._outcome: str | None = None
        self._error_class: str | None = None
        self._span: Span = trace.INVALID_SPAN
        self._token: Token[otel_context.Context] | None = None
        self._start = 0.0

    def __enter__(self) -> CallObservation:
        self._span = self._telemetry.tracer.start_span(
            self._name, kind=SpanKind.SERVER, attributes=self._attributes
        )
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        self._start = time.perf_counter()
        return self

    def sandbox(self, *, started: bool) -> None:
        """Whether this call started a new sandbox (`True`) or took a warm one from the pool."""
        self._span.set_attribute("switchboard.sandbox.started", started)
        self._series.sandbox(started).inc()

    def outcome(self, outcome: str, error_class: str | None = None) -> None:
        """How the call ended: `ok`, `error`, `denied`, ...; `error_class` names the failure,
        such as `SandboxTimeoutError` (a class name, never a message), or `tool_error` for a
        result the tool itself marked `isError` (the MCP semantic convention)."""
        self._outcome = outcome
        self._error_class = error_class

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._start
        outcome, error_class = self._outcome or "ok", self._error_class
        if isinstance(exc, Exception):
            if outcome == "ok":
                outcome = "error"
            error_class = error_class or type(exc).__name__
        elif exc is not None and self._outcome is None:
            outcome = "cancelled"
        if outcome == "error" and error_class is None:
            error_class = "unknown"
        span = self._span
        span.set_attribute("switchboard.outcome", outcome)
        if error_class is not None:
            span.set_attribute("error.type", error_class)
        if outcome == "error":
            span.set_status(Status(StatusCode.ERROR))
        series = self._series
        series.duration.observe(elapsed)
        series.outcome(outcome).inc()
        if error_class is not None:
            series.error(error_class).inc()
        if self._token is not None:
            otel_context.detach(self._token)
        span.end()


class _Series:
    """The metric children of one (server, tool), looked up once instead of on every call."""

    def __init__(self, telemetry: Telemetry, server: str, tool: str) -> None:
        self._telemetry = telemetry
        self.server = server
        self.tool = tool
        self.duration = telemetry.duration.labels(server, tool)
        self._outcomes: dict[str, Counter] = {}
        self._errors: dict[str, Counter] = {}
        self._sandboxes: dict[bool, Counter] = {}

    def outcome(self, outcome: str) -> Counter:
        child = self._outcomes.get(outcome)
        if child is None:
            child = self._outcomes[outcome] = self._telemetry.calls.labels(
                self.server, self.tool, outcome
            )
        return child

    def error(self, error_class: str) -> Counter:
        child = self._errors.get(error_class)
        if child is None:
            child = self._errors[error_class] = self._telemetry.errors.labels(
                self.server, self.tool, error_class
            )
        return child

    def sandbox(self, started: bool) -> Counter:
        child = self._sandboxes.get(started)
        if child is None:
            mode = "started" if started else "reused"
            child = self._sandboxes[started] = self._telemetry.sandboxes.labels(self.server, mode)
        return child


class PoolSizes:
    """`switchboard_sandbox_pool_idle{pool}`, asked of the sandbox pools at scrape time."""

    def __init__(self) -> None:
        self.source: Callable[[], dict[str, int]] | None = None

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        if self.source is not None:
            try:
                sizes = self.source()
            except Exception:
                logger.exception("the sandbox pool sizes could not be read for /metrics")
                sizes = {}
            for pool, idle in sorted(sizes.items()):
                family.add_metric([pool], idle)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "switchboard_sandbox_pool_idle",
            "Warm sandboxes waiting in each sandbox pool.",
            labels=["pool"],
        )
