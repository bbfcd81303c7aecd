"""How an upstream call failed, and what the router should do about it.

Messages here are safe to log and return: they hold the deployment's label, the HTTP status and
the provider's error type or code, never the provider's message (it can echo the prompt) nor a key.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, Literal

import httpx2

FailureKind = Literal[
    "connect",
    "timeout",
    "rate_limited",
    "server_error",
    "bad_response",
    "context_window",
    "unauthorized",
    "invalid_request",
]
RETRYABLE: frozenset[FailureKind] = frozenset(
    {"connect", "timeout", "rate_limited", "server_error", "bad_response"}
)
CONTEXT_MARKERS = (
    "context_length_exceeded",
    "prompt is too long",
    "maximum context length",
    "context window",
    "too many tokens",
)


class UpstreamFailure(Exception):
    def __init__(
        self,
        kind: FailureKind,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    @property
    def cools_down(self) -> bool:
        """Whether later requests should try this deployment last for a while."""
        return self.kind not in ("context_window", "invalid_request")


def retry_after(headers: httpx2.Headers) -> float | None:
    """`Retry-After` (seconds or an HTTP date), or OpenAI's `retry-after-ms`, in seconds."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        moment = email.utils.parsedate_to_datetime(value) if value else None
        return None if moment is None else max(0.0, moment.timestamp() - time.time())


def error_fields(body: Any) -> tuple[str, str, str]:
    """(type, code, message) from OpenAI's `{"error": {...}}` or Anthropic's
    `{"type": "error", "error": {...}}`; empty strings where absent."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return "", "", error
    if not isinstance(error, dict):
        return "", "", ""
    return (
        str(error.get("type") or ""),
        str(error.get("code") or ""),
        str(error.get("message") or ""),
    )


def classify(response: httpx2.Response, body: Any, label: str) -> UpstreamFailure:
    """The failure an error response stands for."""
    status = response.status_code
    kind_text, code, message = error_fields(body)
    said = f"{label} answered {status}" + (f" ({code or kind_text})" if code or kind_text else "")
    lowered = f"{code} {message}".lower()
    if status in (400, 413, 422) and any(marker in lowered for marker in CONTEXT_MARKERS):
        return UpstreamFailure(
            "context_window", f"{label}: the prompt exceeds its context window", status=status
        )
    if status == 429:
        return UpstreamFailure(
            "rate_limited", said, status=status, retry_after=retry_after(response.headers)
        )
    if status >= 500:
        return UpstreamFailure(
            "server_error", said, status=status, retry_after=retry_after(response.headers)
        )
    if status in (401, 403, 404):
        return UpstreamFailure("unauthorized", said, status=status)
    return UpstreamFailure("invalid_request", said, status=status)


def transport_failure(exc: Exception, label: str) -> UpstreamFailure:
    if isinstance(exc, httpx2.TimeoutException | TimeoutError):
        return UpstreamFailure("timeout", f"{label} timed out")
    if isinstance(exc, httpx2.ConnectError):
        return UpstreamFailure("connect", f"{label} refused the connection or is unreachable")
    return UpstreamFailure("connect", f"{label}: {type(exc).__name__}")
