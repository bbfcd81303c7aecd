"""Anthropic's messages API, spoken as OpenAI chat completions.

Requests are translated from the OpenAI shape (system messages, tool calls and tool results,
tools, tool choice, stop sequences, images), and answers and stream events back to it, so the
router, `/v1` and pydantic-ai see one format.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx2

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

VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _blocks(content: Any) -> list[JSON]:
    """OpenAI content (a string or parts) as Anthropic content blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[JSON] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            if url.startswith("data:") and ";base64," in url:
                media, _, data = url[5:].partition(";base64,")
                source = {"type": "base64", "media_type": media, "data": data}
            else:
                source = {"type": "url", "url": url}
            blocks.append({"type": "image", "source": source})
    return blocks


def _arguments(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}


def _messages(messages: list[Any]) -> tuple[str, list[JSON]]:
    system: list[str] = []
    result: list[JSON] = []

    def add(role: str, blocks: list[JSON]) -> None:
        if result and result[-1]["role"] == role:
            result[-1]["content"].extend(blocks)
        else:
            result.append({"role": role, "content": blocks})

    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text(message.get("content")))
        elif role == "user":
            add("user", _blocks(message.get("content")))
        elif role == "assistant":
            blocks = _blocks(message.get("content"))
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id"),
                        "name": function.get("name"),
                        "input": _arguments(function.get("arguments")),
                    }
                )
            add("assistant", blocks)
        elif role == "tool":
            result_block = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": _text(message.get("content")),
            }
            add("user", [result_block])
    return "\n\n".join(s for s in system if s), result


def _tool_choice(choice: Any) -> JSON | None:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": choice["function"].get("name")}
    return None


def to_anthropic(body: JSON, model: str, *, stream: bool) -> JSON:
    system, messages = _messages(body.get("messages") or [])
    request: JSON = {
        "model": model,
        "messages": messages,
        "max_tokens": body.get("max_completion_tokens")
        or body.get("max_tokens")
        or DEFAULT_MAX_TOKENS,
    }
    if system:
        request["system"] = system
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            request[name] = body[name]
    stop = body.get("stop")
    if stop:
        request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = [
        {
            "name": t["function"].get("name"),
            "description": t["function"].get("description", ""),
            "input_schema": t["function"].get("parameters") or {"type": "object"},
        }
        for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    if tools:
        request["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"))
        if choice is not None:
            request["tool_choice"] = choice
    if stream:
        request["stream"] = True
    return request


def anthropic_usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    input_tokens = token_count(value.get("input_tokens"))
    output_tokens = token_count(value.get("output_tokens", 0))
    if input_tokens is None or output_tokens is None:
        return None
    return Usage(input_tokens, output_tokens)


def from_anthropic(body: JSON, label: str) -> JSON:
    content = body.get("content")
    if not isinstance(content, list):
        raise UpstreamFailure("bad_response", f"{label} answered without `content`")
    text = "".join(
        b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
    )
    calls = [
        {
            "id": b.get("id"),
            "type": "function",
            "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})},
        }
        for b in content
        if isinstance(b, dict) and b.get("type") == "tool_use"
    ]
    message: JSON = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    usage = anthropic_usage(body.get("usage")) or Usage(0, 0)
    return {
        "id": f"chatcmpl-{body.get('id') or uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": FINISH.get(str(body.get("stop_reason")), "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total,
        },
    }


class AnthropicMessages:
    """`POST {base}/v1/messages` with `x-api-key` and `anthropic-version`."""

    def request(self, call: Call, *, stream: bool) -> httpx2.Request:
        deployment = call.deployment
        headers = {"x-api-key": call.api_key or "", "anthropic-version": VERSION}
        return post(
            f"{call.base_url.rstrip('/')}/v1/messages",
            to_anthropic(call.body, deployment.model, stream=stream),
            headers,
            deployment,
        )

    async def complete(self, upstream: Upstream, call: Call) -> Completion:
        label = call.deployment.label
        response = await send(upstream, self.request(call, stream=False), label)
        try:
            body = await read_json(response, label)
        finally:
            await response.aclose()
        return Completion(from_anthropic(body, label), anthropic_usage(body.get("usage")))

    async def stream(self, upstream: Upstream, call: Call) -> AnthropicStream:
        label = call.deployment.label
        response = await send(upstream, self.request(call, stream=True), label)
        return AnthropicStream(response, label)


class AnthropicStream:
    """Anthropic stream events as OpenAI chunks: text and tool-call deltas, the finish reason,
    then one usage chunk (`choices: []`), as OpenAI sends with `include_usage`."""

    def __init__(self, response: httpx2.Response, label: str) -> None:
        self.response = response
        self.label = label
        self.usage: Usage | None = None
        self._id = f"chatcmpl-{uuid.uuid4().hex}"
        self._model = ""
        self._tools: dict[int, int] = {}
        """Anthropic content block index -> OpenAI tool call index."""

    def _chunk(self, delta: JSON, finish: str | None = None) -> JSON:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    async def chunks(self) -> AsyncIterator[JSON]:
        input_tokens: int | None = None
        output_tokens: int | None = 0
        async for _, data in sse_events(self.response, self.label):
            event = parse_event(data, self.label)
            kind = event.get("type")
            if kind == "message_start":
                message = event.get("message") or {}
                self._model = str(message.get("model") or "")
                usage = anthropic_usage(message.get("usage"))
                input_tokens = usage.input_tokens if usage else None
                yield self._chunk({"role": "assistant", "content": ""})
            elif kind == "content_block_start":
                block = event.get("content_block") or {}
                if block.get("type") == "tool_use":
                    index = self._tools[event.get("index", 0)] = len(self._tools)
                    call = {"name": block.get("name"), "arguments": ""}
                    yield self._chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": index,
                                    "id": block.get("id"),
                                    "type": "function",
                                    "function": call,
                                }
                            ]
                        }
                    )
            elif kind == "content_block_delta":
                delta = event.get("delta") or {}
                if delta.get("type") == "text_delta":
                    yield self._chunk({"content": delta.get("text", "")})
                elif delta.get("type") == "input_json_delta":
                    index = self._tools.get(event.get("index", 0), 0)
                    arguments = {"arguments": delta.get("partial_json", "")}
                    yield self._chunk({"tool_calls": [{"index": index, "function": arguments}]})
            elif kind == "message_delta":
                reported = event.get("usage") or {}
                if "output_tokens" in reported:  # the count so far, not an increment
                    output_tokens = token_count(reported["output_tokens"])
                reason = str((event.get("delta") or {}).get("stop_reason"))
                yield self._chunk({}, FINISH.get(reason, "stop"))
            elif kind == "error":
                raise UpstreamFailure("server_error", f"{self.label} reported an error mid-stream")
            elif kind == "message_stop":
                break
        if input_tokens is None or output_tokens is None:
            return  # nothing believable reported: the router estimates the usage
        self.usage = Usage(input_tokens, output_tokens)
        final = self._chunk({})
        final["choices"] = []
        final["usage"] = {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
        yield final

    async def aclose(self) -> None:
        await self.response.aclose()
