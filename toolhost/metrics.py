"""`/metrics`: the toolhost's Prometheus metrics, for scrapers the security team trusts.

Metric labels name servers and tools, which only some people may see, so a scrape needs a
bearer token (personal or OAuth) of a `security` or `admin` user that carries the `metrics`
scope (a scraper's token, good for nothing else) or the `api` scope (which already lets such a
user read the audit log). The role is read on every scrape, so a demotion takes effect at once.
"""

from __future__ import annotations

import logging

from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from switchboard.identity.bearer import authenticate_bearer
from switchboard.identity.principal import Principal
from switchboard.identity.scopes import API, METRICS, METRICS_ROLES
from switchboard.identity.tokens import InvalidTokenError
from switchboard.services import Services
from toolhost.authentication import bearer_token
from toolhost.telemetry import Telemetry

logger = logging.getLogger(__name__)


async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus text exposition (or OpenMetrics, when the scraper asks for it)."""
    refusal = await _refusal(request)
    if refusal is not None:
        return refusal
    telemetry: Telemetry = request.app.state.telemetry
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(
        encoder(telemetry.registry), media_type=content_type, headers={"Cache-Control": "no-store"}
    )


async def _refusal(request: Request) -> Response | None:
    services: Services = request.app.state.services
    settings = services.settings
    token = bearer_token(request.scope)
    if token is None:
        return _problem(
            401,
            "send `Authorization: Bearer <token>`: a token with the `metrics` scope of a "
            "security or admin user (`switchboard token create --scope metrics`)",
        )
    try:
        caller = await authenticate_bearer(
            services.reads,
            services.tokens,
            token,
            audiences=(settings.effective_public_url, settings.mcp_url),
        )
    except InvalidTokenError as exc:
        logger.info("refused a bearer token at /metrics: %s", exc)
        return _problem(401, "the bearer token is invalid, expired or revoked", "invalid_token")
    return _forbidden(caller.principal)


def _forbidden(principal: Principal) -> Response | None:
    if principal.role not in METRICS_ROLES:
        return _problem(
            403,
            "metrics need the security or admin role; "
            f"{principal.username} is a {principal.role.value}",
        )
    if not principal.scopes & {METRICS, API}:
        return _problem(
            403, "the token lacks the `metrics` scope metrics need", "insufficient_scope"
        )
    return None


def _problem(status: int, detail: str, error: str | None = None) -> JSONResponse:
    """An RFC 9457 problem, as the JSON API sends, with an RFC 6750 challenge."""
    challenge = f'Bearer realm="switchboard", scope="{METRICS}"'
    if error is not None:
        challenge += f', error="{error}"'
    body = {
        "type": "about:blank",
        "title": "Unauthorized" if status == 401 else "Forbidden",
        "status": status,
        "detail": detail,
    }
    return JSONResponse(
        body,
        status_code=status,
        media_type="application/problem+json",
        headers={"WWW-Authenticate": challenge},
    )
