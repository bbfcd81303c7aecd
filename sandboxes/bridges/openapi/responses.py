"""An HTTP response as a tool result.

A 2xx answer is text content always, plus `structuredContent` when the tool has an output schema
(wrapped in `result` when the binding says so); a tool with an output schema whose answer is not
the JSON object it promises is an error result rather than a result breaking its schema. Any
other status is an error result with the status and a bounded excerpt of the body. Secret values
are cut out of everything passed on: an API may echo a key back in an error message.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass

import mcp_types as types

from sandboxes.bridges.openapi.config import BridgeTool

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""Largest body passed on; the call path caps results at the same size by default."""
EXCERPT_CHARS = 2000
MIN_REDACTED_LENGTH = 4
"""Shorter secrets are not cut out: they would mangle every result (and guard nothing)."""
REDACTED = "[redacted]"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    reason: str
    content_type: str
    body: bytes
    complete: bool
    """False when the body was longer than MAX_RESPONSE_BYTES and was cut there."""
    from_proxy: bool = False
    """The egress proxy answered (it refused the request), not the API."""
    location: str | None = None
    """Where a redirect points: the bridge follows none, but says where (often `https://`)."""


class Redactor:
    """Replaces every secret value (and its base64 form, as in basic credentials) in a text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = {s for s in secrets if len(s) >= MIN_REDACTED_LENGTH}
        values |= {base64.b64encode(s.encode()).decode() for s in values}
        self._values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, REDACTED)
        return text


def tool_result(
    tool: BridgeTool, target: str, response: HttpResponse, redact: Redactor
) -> types.CallToolResult:
    status = f"HTTP {response.status} {response.reason}".rstrip()
    if not 200 <= response.status < 300:
        return error_result(_failure(status, target, response, redact))
    if not response.complete:
        return error_result(
            f"the answer to {target} is larger than {MAX_RESPONSE_BYTES} bytes, more than a "
            "tool result may carry; ask for less (a filter or a smaller page)"
        )
    try:
        text = redact(response.body.decode("utf-8"))
    except UnicodeDecodeError:
        return error_result(
            f"{status} from {target} is {len(response.body)} bytes of "
            f"{response.content_type or 'binary data'}, which a tool result cannot carry"
        )
    if not tool.has_output_schema:
        return _text_result(text or status)
    structured = _structured(text, wrap=bool(tool.binding.get("wrapResult")))
    if structured is None:
        return error_result(
            f"{status} from {target} is not the JSON object the tool's output schema "
            f"describes (Content-Type {response.content_type or 'none'}): {_excerpt(text)}"
        )
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=structured
    )


def error_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def _text_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


def _structured(text: str, *, wrap: bool) -> dict[str, object] | None:
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    value = {"result": parsed} if wrap else parsed
    return value if isinstance(value, dict) else None


def _failure(status: str, target: str, response: HttpResponse, redact: Redactor) -> str:
    message = f"{status} from {target}"
    if response.from_proxy:
        message += " (the sandbox's egress proxy refused it, not the API)"
    if response.location:
        message += f" to {redact(response.location)} (redirects are not followed)"
    body = redact(response.body.decode("utf-8", errors="replace")).strip()
    return f"{message}: {_excerpt(body)}" if body else message


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"
