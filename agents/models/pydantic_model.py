"""The pydantic-ai model the agent engine runs agents on: every request goes through the router.

Design: pydantic-ai's `OpenAIChatModel` already turns its messages, tools and streams into OpenAI
chat completions, and the router speaks exactly that. So the model is an `OpenAIChatModel` whose
OpenAI client sends its HTTP requests to `RouterTransport`, an httpx2 transport that hands them
straight to the in-process `Router` (no socket, no token, no second authentication) with the
run's attribution bound in. Routing, fallback, limits and accounting are then the same code that
serves `/v1`, and pydantic-ai needs no second message translation.

The OpenAI client would turn the router's typed errors into connection errors, and pydantic-ai
those into its own; `RoutedModel` unwraps them again, so the engine catches
`BudgetExceededError`, `TeamRateLimitError`, `AllDeploymentsFailedError` (all `ModelLayerError`)
and can show `str(error)` as the run's stop reason.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from openai import AsyncOpenAI
from pydantic_ai import RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.providers.openai_compatible import OpenAICompatibleProvider
from pydantic_ai.settings import ModelSettings

from agents.models.errors import InvalidModelRequestError, ModelLayerError
from agents.models.router import Attribution, RoutedStream, Router

IN_PROCESS_URL = "http://switchboard-router.invalid/v1"
"""Never resolved: `RouterTransport` answers every request itself."""


class _Chunks(httpx2.AsyncByteStream):
    def __init__(self, stream: RoutedStream) -> None:
        self._stream = stream
        self._iterator: AsyncIterator[bytes] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._iterator = aiter(self._stream)
        async for chunk in self._iterator:
            yield chunk

    async def aclose(self) -> None:
        iterator = self._iterator
        if iterator is not None and hasattr(iterator, "aclose"):
            await iterator.aclose()


class RouterTransport(httpx2.AsyncBaseTransport):
    """OpenAI chat-completion requests answered by the router, charged to `attribution`."""

    def __init__(self, router: Router, attribution: Attribution) -> None:
        self._router = router
        self._attribution = attribution

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            raise InvalidModelRequestError(
                f"the routed model serves chat completions only, not {request.url.path}"
            )
        body = json.loads(await request.aread())
        if body.get("stream"):
            stream = await self._router.stream(body, self._attribution)
            return httpx2.Response(
                200,
                headers={"content-type": "text/event-stream"},
                stream=_Chunks(stream),
                request=request,
            )
        answer, _ = await self._router.complete(body, self._attribution)
        return httpx2.Response(200, json=answer, request=request)


def layer_error(exc: BaseException) -> ModelLayerError | None:
    """The router's error behind whatever the OpenAI client and pydantic-ai wrapped it in."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ModelLayerError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class RoutedModel(WrapperModel):
    """Raises the router's own errors, not the wrappers the OpenAI client put around them."""

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        try:
            return await super().request(messages, model_settings, model_request_parameters)
        except Exception as exc:
            raise _unwrapped(exc) from exc

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        try:
            async with super().request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as response:
                yield response
        except Exception as exc:
            raise _unwrapped(exc) from exc


def _unwrapped(exc: Exception) -> Exception:
    found = layer_error(exc)
    return exc if found is None or found is exc else found


def routed_model(router: Router, alias: str, *, attribution: Attribution) -> Model:
    """A pydantic-ai model for the model alias `alias`, charged to `attribution`."""
    client = AsyncOpenAI(
        base_url=IN_PROCESS_URL,
        api_key="in-process",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=RouterTransport(router, attribution)),
    )
    provider = OpenAICompatibleProvider("switchboard", openai_client=client)
    return RoutedModel(OpenAIChatModel(alias, provider=provider))
