"""What every provider hands the router: OpenAI chat-completion shapes, usage and streams.

Requests and answers inside the router are OpenAI chat-completion JSON, whatever the provider
speaks; `anthropic_wire` translates to and from it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2

from agents.models.config import Deployment
from agents.models.failures import UpstreamFailure, classify, transport_failure

JSON = dict[str, Any]


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    estimated: bool = False

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


def token_count(value: Any) -> int | None:
    """A reported number of tokens, or `None` for one that cannot be (negative, fractional, a
    boolean, text): charged as reported, a negative count would lower a team's spending."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


@dataclass(frozen=True)
class Call:
    """One attempt at one deployment: where to send it, with which key, and the request."""

    deployment: Deployment
    base_url: str
    api_key: str | None
    body: JSON


@dataclass(frozen=True)
class Completion:
    body: JSON
    usage: Usage | None


class ChunkStream(Protocol):
    """An upstream stream as OpenAI `chat.completion.chunk` objects; `usage` is known once the
    chunks are exhausted (or stays `None` if the provider reported none)."""

    usage: Usage | None

    def chunks(self) -> AsyncIterator[JSON]: ...

    async def aclose(self) -> None: ...


Upstream = httpx2.AsyncBaseTransport
"""Where provider requests go: the model layer's one connection pool, called directly. An httpx2
client around it would add nothing a provider call needs (cookies carried from one tenant's call
to the next, redirects, hooks) for about 90 us per call."""


class Provider(Protocol):
    async def complete(self, upstream: Upstream, call: Call) -> Completion: ...

    async def stream(self, upstream: Upstream, call: Call) -> ChunkStream: ...


def timeout(deployment: Deployment) -> httpx2.Timeout:
    return httpx2.Timeout(deployment.timeout_seconds, connect=min(10.0, deployment.timeout_seconds))


def post(url: str, body: JSON, headers: dict[str, str], deployment: Deployment) -> httpx2.Request:
    return httpx2.Request(
        "POST",
        url,
        json=body,
        headers=headers,
        extensions={"timeout": timeout(deployment).as_dict()},
    )


async def send(upstream: Upstream, request: httpx2.Request, label: str) -> httpx2.Response:
    """Send `request`; an error status or a transport failure becomes an `UpstreamFailure`. The
    response's body is left to read (or stream)."""
    try:
        response = await upstream.handle_async_request(request)
    except httpx2.HTTPError as exc:
        raise transport_failure(exc, label) from None
    if response.status_code >= 400:
        try:
            body = json.loads(await response.aread())
        except (ValueError, httpx2.HTTPError):
            body = None
        finally:
            await response.aclose()
        raise classify(response, body, label)
    return response


async def read_json(response: httpx2.Response, label: str) -> JSON:
    try:
        body = json.loads(await response.aread())
    except httpx2.HTTPError as exc:
        raise transport_failure(exc, label) from None
    except ValueError:
        raise UpstreamFailure(
            "bad_response", f"{label} answered with a body that is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise UpstreamFailure("bad_response", f"{label} answered with JSON that is not an object")
    return body


async def sse_events(response: httpx2.Response, label: str) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream; transport failures mid-stream become
    `UpstreamFailure`s."""
    event = ""
    data: list[str] = []
    try:
        async for line in response.aiter_lines():
            if not line:
                if data:
                    yield event, "\n".join(data)
                event = ""
                data = []
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line.startswith("event:"):
                event = line[6:].strip()
    except httpx2.HTTPError as exc:
        raise transport_failure(exc, label) from None
    if data:
        yield event, "\n".join(data)


def parse_event(data: str, label: str) -> JSON:
    try:
        value = json.loads(data)
    except ValueError:
        raise UpstreamFailure(
            "bad_response", f"{label} streamed an event that is not JSON"
        ) from None
    if not isinstance(value, dict):
        raise UpstreamFailure("bad_response", f"{label} streamed an event that is not an object")
    return value
