"""What each step of the agent's graph tells a person: text the model wrote, the tool calls it
made, and their results; redacted before anything is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic_ai.messages import (
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)

from agents.runs.events import Redactor

Event = tuple[str, dict[str, Any]]


def response_events(response: ModelResponse, redact: Redactor) -> Iterator[Event]:
    for part in response.parts:
        if isinstance(part, TextPart) and part.content.strip():
            yield "model_text", {"text": redact(part.content)}
        elif isinstance(part, ToolCallPart):
            yield (
                "tool_call",
                {
                    "tool": part.tool_name,
                    "tool_call_id": part.tool_call_id,
                    "arguments": redact(part.args_as_dict()),
                },
            )


def request_events(request: ModelRequest, redact: Redactor) -> Iterator[Event]:
    for part in request.parts:
        if isinstance(part, ToolReturnPart):
            yield (
                "tool_result",
                {
                    "tool": part.tool_name,
                    "tool_call_id": part.tool_call_id,
                    "outcome": part.outcome,
                    "content": redact(_text(part.content)),
                },
            )
        elif isinstance(part, RetryPromptPart) and part.tool_name is not None:
            yield (
                "tool_result",
                {
                    "tool": part.tool_name,
                    "tool_call_id": part.tool_call_id,
                    "outcome": "retry",
                    "content": redact(part.model_response()),
                },
            )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    try:
        return json.dumps(content, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(content)
