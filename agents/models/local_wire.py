"""Requests to the embedded model, reshaped for llama-cpp-python's `chatml-function-calling`.

The embedded model's server speaks OpenAI chat completions, but that chat format handles only
part of what agents send, and an agent's tool loop breaks on the rest:

- an assistant message that called tools must carry a string `content`: the server refuses one
  whose content is null or absent, as pydantic-ai sends it;
- its prompt template renders system, user and assistant messages only: `tool` messages vanish,
  so the model never sees a tool's result and calls the same tool again. They become user
  messages naming the tool ("Result of tool X: ..."). The template also HTML-escapes what it
  renders (`"` becomes `&#34;`), which a small model then copies into its own arguments, so a
  JSON result is given as quote-free `key: value` lines;
- `tool_choice: "required"` (sent when an agent must answer through its output tool) fails with
  a server error; the format supports `"auto"` and naming one tool, which forces that call;
- the tools are described inside the system message only: with none, the model would not know
  them, so an empty one is added;
- it cannot stream a reply whose choice between text and a tool is left to the model ("Automatic
  streaming tool choice is not supported"), so a streamed request that offers tools is asked
  for whole and its answer replayed as one chunk.

Everything else is sent as it came; other providers are not affected.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from agents.models.openai_wire import OpenAIChat
from agents.models.wire import JSON, Call, ChunkStream, Completion, Upstream, Usage


def _text(content: Any) -> str:
    """A message's content as plain text (OpenAI allows a list of typed parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return json.dumps(content)


def _lines(value: Any, path: str = "") -> list[str]:
    """A JSON value as `a.b: value` lines, strings unquoted."""
    if isinstance(value, dict) and value:
        return [line for k, v in value.items() for line in _lines(v, f"{path}{k}.")]
    if isinstance(value, list) and value:
        return [line for i, v in enumerate(value) for line in _lines(v, f"{path}{i}.")]
    text = value if isinstance(value, str) else json.dumps(value)
    return [f"{path.removesuffix('.')}: {text}" if path else text]


def _result(content: Any) -> str:
    text = _text(content)
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return "\n".join(_lines(value)) if isinstance(value, dict | list) else text


def _tool_names(messages: list[Any]) -> dict[str, str]:
    """Tool call id -> the name of the tool called, from the assistant messages."""
    names: dict[str, str] = {}
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "assistant":
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                if isinstance(call.get("id"), str) and isinstance(function.get("name"), str):
                    names[call["id"]] = function["name"]
    return names


def _message(message: Any, names: dict[str, str]) -> Any:
    if not isinstance(message, dict):
        return message
    role = message.get("role")
    if role == "assistant" and message.get("tool_calls") and not message.get("content"):
        return {**message, "content": ""}
    if role == "tool":
        name = names.get(str(message.get("tool_call_id")))
        called = f"tool {name}" if name else "a tool call"
        result = _result(message.get("content"))
        return {"role": "user", "content": f"Result of {called}:\n{result}"}
    return message


def adapt_request(body: JSON) -> JSON:
    """`body` as the embedded model's chat format can follow it (see the module's docstring)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    names = _tool_names(messages)
    adapted = [_message(message, names) for message in messages]
    tools = body.get("tools") or []
    if tools and not any(isinstance(m, dict) and m.get("role") == "system" for m in adapted):
        adapted.insert(0, {"role": "system", "content": ""})
    result = {**body, "messages": adapted}
    if body.get("tool_choice") == "required":
        only = tools[0].get("function", {}).get("name") if len(tools) == 1 else None
        result["tool_choice"] = (
            {"type": "function", "function": {"name": only}} if isinstance(only, str) else "auto"
        )
    return result


class LocalChat:
    """The embedded model's provider: OpenAI chat completions, each request adapted first."""

    def __init__(self, openai: OpenAIChat) -> None:
        self._openai = openai

    async def complete(self, upstream: Upstream, call: Call) -> Completion:
        return await self._openai.complete(upstream, replace(call, body=adapt_request(call.body)))

    async def stream(self, upstream: Upstream, call: Call) -> ChunkStream:
        body = adapt_request(call.body)
        if body.get("tools"):
            return ReplayedStream(await self._openai.complete(upstream, replace(call, body=body)))
        return await self._openai.stream(upstream, replace(call, body=body))


class ReplayedStream:
    """A whole completion as the stream a client asked for: one chunk per choice with the
    message as its delta (tool calls indexed, as streamed calls are), then the usage."""

    def __init__(self, completion: Completion) -> None:
        self._body = completion.body
        self._usage = completion.usage
        self.usage: Usage | None = None

    async def chunks(self) -> AsyncIterator[JSON]:
        for choice in self._body.get("choices") or []:
            message = dict(choice.get("message") or {})
            calls = message.get("tool_calls")
            if isinstance(calls, list):
                message["tool_calls"] = [
                    {**call, "index": index} for index, call in enumerate(calls)
                ]
            yield {
                "id": self._body.get("id"),
                "object": "chat.completion.chunk",
                "created": self._body.get("created"),
                "model": self._body.get("model"),
                "choices": [
                    {
                        "index": choice.get("index", 0),
                        "delta": message,
                        "finish_reason": choice.get("finish_reason"),
                    }
                ],
            }
        self.usage = self._usage

    async def aclose(self) -> None:
        """Nothing is open: the answer was read whole."""
