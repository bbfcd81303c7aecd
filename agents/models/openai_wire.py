"""OpenAI chat completions: OpenAI itself, Azure OpenAI, and any OpenAI-compatible server
(vLLM, Ollama, llama.cpp, and the embedded local model, which is one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2

from agents.models.config import Deployment
from agents.models.failures import UpstreamFailure
from agents.models.wire import (
    JSON,
    Call,
    Completion,
    Upstream,
    Usage,
    parse_event,
    post,
    read_json,
    send,
    sse_events,
    token_count,
)


def openai_usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    prompt = token_count(value.get("prompt_tokens"))
    completion = token_count(value.get("completion_tokens"))
    if prompt is None or completion is None:
        return None
    return Usage(prompt, completion)


class OpenAIChat:
    """`POST {base}/chat/completions` with a bearer key, or Azure's deployment URL and
    `api-key` header."""

    def request(self, call: Call, *, stream: bool) -> httpx2.Request:
        deployment = call.deployment
        body = {**call.body, "model": deployment.model}
        if stream:
            body["stream"] = True
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        url, headers = self.endpoint(deployment, call.base_url, call.api_key)
        return post(url, body, headers, deployment)

    @staticmethod
    def endpoint(
        deployment: Deployment, base_url: str, api_key: str | None
    ) -> tuple[str, dict[str, str]]:
        base = base_url.rstrip("/")
        if deployment.provider == "azure-openai":
            url = f"{base}/openai/deployments/{deployment.model}/chat/completions"
            url += f"?api-version={deployment.api_version}"
            return url, {"api-key": api_key or ""}
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return f"{base}/chat/completions", headers

    async def complete(self, upstream: Upstream, call: Call) -> Completion:
        label = call.deployment.label
        response = await send(upstream, self.request(call, stream=False), label)
        try:
            body = await read_json(response, label)
        finally:
            await response.aclose()
        if not isinstance(body.get("choices"), list):
            raise UpstreamFailure("bad_response", f"{label} answered without `choices`")
        return Completion(body, openai_usage(body.get("usage")))

    async def stream(self, upstream: Upstream, call: Call) -> OpenAIStream:
        label = call.deployment.label
        response = await send(upstream, self.request(call, stream=True), label)
        return OpenAIStream(response, label)


class OpenAIStream:
    def __init__(self, response: httpx2.Response, label: str) -> None:
        self.response = response
        self.label = label
        self.usage: Usage | None = None

    async def chunks(self) -> AsyncIterator[JSON]:
        async for _, data in sse_events(self.response, self.label):
            if data.strip() == "[DONE]":
                return
            chunk = parse_event(data, self.label)
            if "error" in chunk:
                raise UpstreamFailure("server_error", f"{self.label} reported an error mid-stream")
            usage = openai_usage(chunk.get("usage"))
            if usage is not None:
                self.usage = usage
            yield chunk

    async def aclose(self) -> None:
        await self.response.aclose()
