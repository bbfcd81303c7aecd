"""Fake model providers: real HTTP servers on loopback speaking OpenAI's and Anthropic's wire
formats, each path prefix failing in one way (`/ok`, `/slow`, `/garbage`, `/limited`, `/down500`,
`/overflow`, `/flaky`), counting the requests each gets."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
ANTHROPIC_USAGE = {"input_tokens": 12, "output_tokens": 7}


class Fake:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.times: dict[str, list[float]] = {}
        self.slow_seconds = 3.0

    def seen(self, mode: str, request: Request, body: dict[str, Any]) -> int:
        self.hits[mode] += 1
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        self.times.setdefault(mode, []).append(time.monotonic())
        return self.hits[mode]

    async def failure(self, mode: str, count: int, anthropic: bool) -> Response | None:
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        if mode == "garbage":
            return PlainTextResponse("<html>definitely not json", status_code=200)
        if mode == "limited" or (mode == "flaky" and count == 1):
            kind = "rate_limit_error" if anthropic else "rate_limit_exceeded"
            return JSONResponse(
                {"error": {"type": kind, "message": "slow down"}},
                status_code=429,
                headers={"Retry-After": "0.2" if mode == "flaky" else "30"},
            )
        if mode == "down500":
            return JSONResponse({"error": {"type": "server_error", "message": "boom"}}, 500)
        if mode == "overflow":
            if anthropic:
                error = {
                    "type": "invalid_request_error",
                    "message": "prompt is too long: 250000 tokens > 200000 maximum",
                }
                return JSONResponse({"type": "error", "error": error}, 400)
            error = {
                "message": "This model's maximum context length is 8192 tokens.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            }
            return JSONResponse({"error": error}, 400)
        return None

    async def openai(self, request: Request) -> Response:
        mode = request.path_params["mode"]
        body = await request.json()
        failed = await self.failure(mode, self.seen(mode, request, body), anthropic=False)
        if failed is not None:
            return failed
        if body.get("stream"):
            return StreamingResponse(self._openai_chunks(body), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"hello from {mode}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": USAGE,
            }
        )

    async def _openai_chunks(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            data = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(data)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        for word in ("hello", " from", " stream"):
            yield chunk({"content": word})
        yield chunk({}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body["model"],
                "choices": [],
                "usage": USAGE,
            }
            yield f"data: {json.dumps(usage)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    async def anthropic(self, request: Request) -> Response:
        mode = request.path_params["mode"]
        body = await request.json()
        failed = await self.failure(mode, self.seen(mode, request, body), anthropic=True)
        if failed is not None:
            return failed
        if body.get("stream"):
            return StreamingResponse(self._anthropic_events(body), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": f"hello from anthropic {mode}"}],
                "stop_reason": "end_turn",
                "usage": ANTHROPIC_USAGE,
            }
        )

    async def _anthropic_events(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        def event(kind: str, data: dict[str, Any]) -> bytes:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

        message = {"id": "msg_fake", "model": body["model"], "usage": {"input_tokens": 12}}
        yield event("message_start", {"message": message})
        yield event("content_block_start", {"index": 0, "content_block": {"type": "text"}})
        for word in ("hello", " anthropic"):
            delta = {"type": "text_delta", "text": word}
            yield event("content_block_delta", {"index": 0, "delta": delta})
        yield event("content_block_stop", {"index": 0})
        yield event(
            "message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}
        )
        yield event("message_stop", {})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/{mode}/v1/chat/completions", self.openai, methods=["POST"]),
                Route(
                    "/{mode}/openai/deployments/{name}/chat/completions",
                    self.openai,
                    methods=["POST"],
                ),
                Route("/{mode}/v1/messages", self.anthropic, methods=["POST"]),
            ]
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """`app` served by uvicorn on a loopback port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake provider did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
