"""The router: one model call, from an alias to a deployment that answers.

admit (the team's RPM, TPM and budget) -> order the alias's deployments (listed order, or
weighted random; cooling-down ones last) -> for each: attempt, retrying retryable failures with
exponential backoff or the provider's `Retry-After`, then fall back to the next; a deployment that
still fails cools down -> account the provider's reported usage (usage table, team windows, span;
the caller's audit record, if it keeps one, commits with the usage row).

Streams fall back only before their first chunk reaches the caller; a stream that fails later
ends with an error event, and what it used is still accounted.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from agents.models.anthropic_wire import AnthropicMessages
from agents.models.config import Deployment, ModelAlias, ModelsConfig
from agents.models.endpoints import Endpoints
from agents.models.errors import (
    AllDeploymentsFailedError,
    InvalidModelRequestError,
    ModelLayerError,
    UnknownModelError,
)
from agents.models.failures import UpstreamFailure
from agents.models.ledger import UsageLedger
from agents.models.limits import TeamLimiter
from agents.models.local_wire import LocalChat
from agents.models.openai_wire import OpenAIChat
from agents.models.wire import JSON, Call, ChunkStream, Completion, Provider, Upstream, Usage
from registry.models import utcnow
from switchboard.audit.log import Event

T = TypeVar("T")
PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure-openai": "azure.ai.openai",
    "openai-compatible": "openai",
    "local": "openai",
}
"""`gen_ai.provider.name` per provider kind (the OpenTelemetry GenAI conventions' values)."""


@dataclass(frozen=True)
class Attribution:
    """Whom a model call is charged to: the user, their team, and the agent run if any."""

    user: str
    team: str
    run_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one routed call did, for the audit log: never the prompt or the answer."""

    alias: str
    deployment: Deployment | None
    usage: Usage | None
    cost: float
    error: ModelLayerError | None = None


AuditEvent = Callable[[Outcome], Event]
"""Builds the audit record of a routed call from its outcome; it commits with the usage row."""


def set_usage(span: Span, usage: Usage) -> None:
    span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)


def estimate_tokens(text_length: int) -> int:
    """About four characters a token: used only when a provider reports no usage."""
    return max(1, text_length // 4) if text_length else 0


def prompt_length(body: JSON) -> int:
    return sum(
        len(json.dumps(m.get("content") or ""))
        for m in body.get("messages") or []
        if isinstance(m, dict)
    )


def output_length(completion: JSON) -> int:
    length = 0
    for choice in completion.get("choices") or []:
        message = choice.get("message") or choice.get("delta") or {}
        length += len(message.get("content") or "")
        for call in message.get("tool_calls") or []:
            length += len((call.get("function") or {}).get("arguments") or "")
    return length


class Router:
    def __init__(
        self,
        config: Callable[[], Awaitable[ModelsConfig]],
        upstream: Upstream,
        endpoints: Endpoints,
        ledger: UsageLedger,
        tracer: Tracer,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._upstream = upstream
        self._endpoints = endpoints
        self._ledger = ledger
        self._tracer = tracer
        self._rng = rng or random.Random()  # noqa: S311  (load spreading, not secrecy)
        self._clock = clock
        self.limiter = TeamLimiter(ledger, clock)
        self._openai = OpenAIChat()
        self.providers: dict[str, Provider] = {
            "anthropic": AnthropicMessages(),
            "local": LocalChat(self._openai),
        }
        self._cooling: dict[str, float] = {}
        """Deployment label -> when its cooldown ends (monotonic clock)."""

    def provider(self, deployment: Deployment) -> Provider:
        return self.providers.get(deployment.provider, self._openai)

    async def aliases(self) -> list[str]:
        return sorted((await self._config()).aliases)

    def cooling_down(self, label: str) -> bool:
        return self._cooling.get(label, 0.0) > self._clock()

    def order(self, alias: ModelAlias) -> list[Deployment]:
        """The deployments to try, in order: healthy ones first, cooling-down ones last."""
        deployments = list(alias.deployments)
        if alias.strategy == "weighted":
            remaining, deployments = deployments, []
            while remaining:
                pick = self._rng.choices(remaining, weights=[d.weight for d in remaining])[0]
                remaining.remove(pick)
                deployments.append(pick)
        return sorted(deployments, key=lambda d: self.cooling_down(d.label))

    async def _admit(
        self, body: JSON, attribution: Attribution
    ) -> tuple[str, ModelsConfig, ModelAlias]:
        config = await self._config()
        name = body.get("model")
        if not isinstance(name, str) or not name:
            raise InvalidModelRequestError("the request needs `model`: a model alias")
        alias = config.aliases.get(name)
        if alias is None:
            known = ", ".join(sorted(config.aliases))
            raise UnknownModelError(f"no model alias `{name}`; the aliases are: {known}")
        if not isinstance(body.get("messages"), list):
            raise InvalidModelRequestError("the request needs `messages`: a list of messages")
        await self.limiter.admit(attribution.team, config.teams.get(attribution.team))
        return name, config, alias

    async def complete(
        self, body: JSON, attribution: Attribution, *, audit: AuditEvent | None = None
    ) -> tuple[JSON, Outcome]:
        """Route a chat completion; the answer is OpenAI `chat.completion` JSON. Once it has
        returned, its usage (and `audit`'s record of it) is committed."""
        name, config, alias = await self._admit(body, attribution)
        failures: list[str] = []
        with self._tracer.start_as_current_span(f"chat {name}", kind=SpanKind.INTERNAL) as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": name,
                    "enduser.id": attribution.user,
                    "switchboard.team": attribution.team,
                }
            )
            for deployment in self.order(alias):
                started = time.perf_counter()
                try:
                    completion = await self._with_retries(
                        config, deployment, lambda call: self._complete_once(call), body
                    )
                except UpstreamFailure as failure:
                    failures.append(str(failure))
                    if failure.kind == "invalid_request":
                        span.set_status(Status(StatusCode.ERROR))
                        raise InvalidModelRequestError(
                            f"the provider refused the request: {failure}"
                        ) from None
                    continue
                usage = completion.usage or Usage(
                    estimate_tokens(prompt_length(body)),
                    estimate_tokens(output_length(completion.body)),
                    estimated=True,
                )
                set_usage(span, usage)
                span.set_attribute("switchboard.deployment", deployment.label)
                outcome = await self._account(
                    name, deployment, usage, attribution, started, streamed=False, audit=audit
                )
                return completion.body, outcome
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", AllDeploymentsFailedError.__name__)
            raise AllDeploymentsFailedError(name, failures)

    async def _complete_once(self, call: Call) -> Completion:
        with anyio.fail_after(call.deployment.timeout_seconds):
            completion = await self.provider(call.deployment).complete(self._upstream, call)
        if completion.usage is not None:
            set_usage(trace.get_current_span(), completion.usage)
        return completion

    async def stream(
        self,
        body: JSON,
        attribution: Attribution,
        *,
        audit: AuditEvent | None = None,
    ) -> RoutedStream:
        """Route a streamed chat completion: returns once a deployment has sent its first chunk.
        Its usage (and `audit`'s record of it) is committed before the stream ends."""
        name, config, alias = await self._admit(body, attribution)
        failures: list[str] = []
        wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        span = self._tracer.start_span(f"chat {name}", kind=SpanKind.INTERNAL)
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": name,
                "enduser.id": attribution.user,
                "switchboard.team": attribution.team,
                "switchboard.stream": True,
            }
        )
        try:
            with trace.use_span(span, end_on_exit=False):
                for deployment in self.order(alias):
                    started = time.perf_counter()
                    try:
                        opened = await self._with_retries(
                            config, deployment, self._open_stream, body
                        )
                    except UpstreamFailure as failure:
                        failures.append(str(failure))
                        if failure.kind == "invalid_request":
                            raise InvalidModelRequestError(
                                f"the provider refused the request: {failure}"
                            ) from None
                        continue
                    span.set_attribute("switchboard.deployment", deployment.label)
                    return RoutedStream(
                        self,
                        Opened(name, deployment, attribution, started, span, *opened),
                        prompt_length(body),
                        wants_usage,
                        audit,
                    )
                raise AllDeploymentsFailedError(name, failures)
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", type(exc).__name__)
            span.end()
            raise

    async def _open_stream(
        self, call: Call
    ) -> tuple[ChunkStream, AsyncIterator[JSON], JSON | None]:
        """Start the stream and read its first chunk, so a deployment that fails before
        sending anything can still be replaced."""
        with anyio.fail_after(call.deployment.timeout_seconds):
            stream = await self.provider(call.deployment).stream(self._upstream, call)
            chunks = aiter(stream.chunks())
            try:
                first = await anext(chunks, None)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
                raise
            return stream, chunks, first

    async def _with_retries(
        self,
        config: ModelsConfig,
        deployment: Deployment,
        attempt: Callable[[Call], Awaitable[T]],
        body: JSON,
    ) -> T:
        label = deployment.label
        for number in range(config.retries + 1):
            with self._tracer.start_as_current_span(
                f"chat {deployment.model}", kind=SpanKind.CLIENT
            ) as span:
                span.set_attributes(
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": deployment.model,
                        "gen_ai.provider.name": PROVIDER_NAMES[deployment.provider],
                        "switchboard.deployment": label,
                        "switchboard.attempt": number + 1,
                    }
                )
                try:
                    base_url, key = await self._endpoints.resolve(deployment)
                    try:
                        return await attempt(Call(deployment, base_url, key, body))
                    except TimeoutError:
                        raise UpstreamFailure("timeout", f"{label} timed out") from None
                except UpstreamFailure as failure:
                    self._failed(span, failure)
                    wait = self._wait(config, number, failure)
                    if wait is None:
                        if failure.cools_down:
                            self._cool(config, label, failure)
                        raise
            await anyio.sleep(wait)
        raise AssertionError("unreachable: the last attempt raises")

    @staticmethod
    def _failed(span: Span, failure: UpstreamFailure) -> None:
        span.set_status(Status(StatusCode.ERROR))
        span.set_attribute("error.type", failure.kind)
        if failure.status is not None:
            span.set_attribute("http.response.status_code", failure.status)

    @staticmethod
    def _wait(config: ModelsConfig, number: int, failure: UpstreamFailure) -> float | None:
        """Seconds to wait before retrying, or `None` to move on to the next deployment."""
        if not failure.retryable or number >= config.retries:
            return None
        if failure.retry_after is not None:
            return (
                failure.retry_after if failure.retry_after <= config.max_backoff_seconds else None
            )
        backoff: float = config.backoff_seconds * 2**number
        return min(backoff, config.max_backoff_seconds)

    def _cool(self, config: ModelsConfig, label: str, failure: UpstreamFailure) -> None:
        seconds = max(config.cooldown_seconds, failure.retry_after or 0.0)
        self._cooling[label] = self._clock() + seconds

    async def _account(
        self,
        alias: str,
        deployment: Deployment,
        usage: Usage,
        attribution: Attribution,
        started: float,
        *,
        streamed: bool,
        audit: AuditEvent | None,
        error: ModelLayerError | None = None,
    ) -> Outcome:
        cost = deployment.cost(usage.input_tokens, usage.output_tokens)
        outcome = Outcome(alias, deployment, usage, cost, error)
        self.limiter.used(attribution.team, usage.total)
        with anyio.CancelScope(shield=True):
            await self._ledger.record(
                {
                    "at": utcnow(),
                    "alias": alias,
                    "deployment": deployment.label,
                    "provider": deployment.provider,
                    "model": deployment.model,
                    "user": attribution.user,
                    "team": attribution.team,
                    "run_id": attribution.run_id,
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "cost": cost,
                    "estimated": usage.estimated,
                    "streamed": streamed,
                    "latency_ms": (time.perf_counter() - started) * 1000,
                },
                None if audit is None else audit(outcome),
            )
        return outcome


@dataclass(frozen=True)
class Opened:
    """A stream a deployment has started, and what it is charged to."""

    alias: str
    deployment: Deployment
    attribution: Attribution
    started: float
    span: Span
    upstream: ChunkStream
    chunks: AsyncIterator[JSON]
    first: JSON | None


class RoutedStream:
    """A started stream as SSE bytes in OpenAI's chunk format, ending with `data: [DONE]`; its
    usage (and audit record) is committed before that last line, or when the caller stops
    reading."""

    def __init__(
        self,
        router: Router,
        opened: Opened,
        prompt_chars: int,
        wants_usage: bool,
        audit: AuditEvent | None,
    ) -> None:
        self.router = router
        self.opened = opened
        self.prompt_chars = prompt_chars
        self.wants_usage = wants_usage
        self.audit = audit
        self.outcome: Outcome | None = None
        self._started = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The stream, once: iterating again (as the OpenAI client does to drain a response)
        yields nothing, and the usage is accounted only once."""
        if self._started:
            return
        self._started = True
        opened = self.opened
        output_chars = 0
        error: ModelLayerError | None = None
        try:
            async for chunk in _prepend(opened.first, opened.chunks):
                output_chars += output_length(chunk)
                if not chunk.get("choices") and "usage" in chunk and not self.wants_usage:
                    continue
                yield b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
        except UpstreamFailure as failure:
            error = AllDeploymentsFailedError(opened.alias, [f"the stream broke off: {failure}"])
            problem = {"error": {"message": str(error), "type": error.code, "code": error.code}}
            yield b"data: " + json.dumps(problem).encode() + b"\n\n"
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish(output_chars, error)
        yield b"data: [DONE]\n\n"

    async def _finish(self, output_chars: int, error: ModelLayerError | None) -> None:
        opened = self.opened
        await opened.upstream.aclose()
        usage = opened.upstream.usage or Usage(
            estimate_tokens(self.prompt_chars), estimate_tokens(output_chars), estimated=True
        )
        set_usage(opened.span, usage)
        if error is not None:
            opened.span.set_status(Status(StatusCode.ERROR))
            opened.span.set_attribute("error.type", type(error).__name__)
        opened.span.end()
        self.outcome = await self.router._account(
            opened.alias,
            opened.deployment,
            usage,
            opened.attribution,
            opened.started,
            streamed=True,
            audit=self.audit,
            error=error,
        )


async def _prepend(first: JSON | None, rest: AsyncIterator[JSON]) -> AsyncIterator[JSON]:
    if first is not None:
        yield first
    async for chunk in rest:
        yield chunk
