"""`/v1/chat/completions` and `/v1/models`: the routed model layer for other applications.

OpenAI's wire format, so any OpenAI client works with `base_url=https://HOST/v1` and a Switchboard
personal access token (or OAuth access token) carrying the `api` scope as its key. Calls are
charged to the caller's team (`X-Switchboard-Team` picks one of theirs) and governed by its
budget and limits; each completion gets one audit record (alias, deployment, tokens, cost,
outcome; never the prompt or the answer), committed with its usage record before the answer
(for a stream, before its final `data: [DONE]`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agents.models.errors import InvalidModelRequestError, ModelLayerError
from agents.models.layer import ModelLayer
from agents.models.router import Attribution, AuditEvent, Outcome
from switchboard.audit.log import Event
from switchboard.identity.bearer import authenticate_bearer
from switchboard.identity.principal import Principal
from switchboard.identity.scopes import API
from switchboard.identity.tokens import InvalidTokenError
from toolhost.authentication import bearer_token
from web.requests import services_of

TEAM_HEADER = "x-switchboard-team"


def openai_error(status: int, message: str, code: str, **headers: str) -> JSONResponse:
    body = {"error": {"message": message, "type": code, "code": code, "param": None}}
    return JSONResponse(body, status_code=status, headers=headers or None)


def layer_of(request: Request) -> ModelLayer:
    layer: ModelLayer = request.app.state.models
    return layer


@dataclass(frozen=True)
class Caller:
    principal: Principal
    teams: list[str]


async def caller(request: Request) -> Caller | JSONResponse:
    """The bearer token's principal and their teams (read in one session: opening and closing
    one costs more than the query), or the OpenAI-shaped refusal to send."""
    token = bearer_token(request.scope)
    challenge = {"WWW-Authenticate": 'Bearer realm="switchboard"'}
    if token is None:
        return openai_error(
            401,
            "send a Switchboard token as `Authorization: Bearer <token>` (the OpenAI client's "
            "`api_key`); `switchboard token create --scope api` makes one",
            "invalid_api_key",
            **challenge,
        )
    services = services_of(request)
    settings = services.settings
    try:
        found = await authenticate_bearer(
            services.reads,
            services.tokens,
            token,
            audiences=(settings.effective_public_url, settings.mcp_url),
        )
    except InvalidTokenError:
        return openai_error(
            401, "the token is invalid, expired or revoked", "invalid_api_key", **challenge
        )
    if API not in found.principal.scopes:
        return openai_error(403, "the token lacks the `api` scope /v1 needs", "insufficient_scope")
    return Caller(found.principal, sorted(found.standing.teams))


async def chat_completions(request: Request) -> Response:
    found = await caller(request)
    if isinstance(found, JSONResponse):
        return found
    principal = found.principal
    layer = layer_of(request)
    alias = "?"
    try:
        body = await _body(request, layer.services.settings.max_request_bytes)
        alias = str(body.get("model") or "?")
        team = layer.team_for(principal.username, found.teams, request.headers.get(TEAM_HEADER))
        attribution = Attribution(user=principal.username, team=team)
        audit = _Audit(layer, principal, team)
        if body.get("stream"):
            stream = await layer.router.stream(body, attribution, audit=audit.event_maker)
            return StreamingResponse(
                aiter(stream),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        answer, _ = await layer.router.complete(body, attribution, audit=audit.event_maker)
        return JSONResponse(answer)
    except ModelLayerError as exc:
        requested = request.headers.get(TEAM_HEADER)
        await _Audit(layer, principal, requested).record(Outcome(alias, None, None, 0.0, exc))
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return openai_error(exc.status_code, str(exc), exc.code, **headers)


async def _body(request: Request, limit: int) -> dict[str, Any]:
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > limit:
            raise InvalidModelRequestError(f"the request body exceeds {limit} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidModelRequestError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidModelRequestError("the request body must be a JSON object")
    return body


class _Audit:
    """One audit record per completion: what was used and how it ended, never the text."""

    def __init__(self, layer: ModelLayer, principal: Principal, team: str | None) -> None:
        self._layer = layer
        self._principal = principal
        self._team = team

    async def record(self, outcome: Outcome) -> None:
        """For a call refused or failed before any usage: its record alone."""
        if self._layer.audit is not None:
            await self._layer.audit.write(self.event(outcome))

    @property
    def event_maker(self) -> AuditEvent | None:
        return None if self._layer.audit is None else self.event

    def event(self, outcome: Outcome) -> Event:
        detail: dict[str, Any] = {"alias": outcome.alias, "team": self._team}
        if outcome.deployment is not None:
            detail["deployment"] = outcome.deployment.label
            detail["cost"] = round(outcome.cost, 8)
        if outcome.usage is not None:
            detail["input_tokens"] = outcome.usage.input_tokens
            detail["output_tokens"] = outcome.usage.output_tokens
        error = outcome.error
        if error is not None:
            detail["error"] = error.code
        principal = self._principal
        return Event(
            actor=principal.username,
            action="model.completion",
            outcome="ok" if error is None else ("denied" if error.status_code == 429 else "error"),
            target=outcome.alias,
            on_behalf_of=principal.on_behalf_of,
            client=principal.client_id,
            detail=detail,
        )


async def list_models(request: Request) -> Response:
    found = await caller(request)
    if isinstance(found, JSONResponse):
        return found
    created = int(time.time())
    aliases = await layer_of(request).router.aliases()
    data = [
        {"id": a, "object": "model", "created": created, "owned_by": "switchboard"} for a in aliases
    ]
    return JSONResponse({"object": "list", "data": data})


def v1_routes() -> list[Route]:
    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
    ]
