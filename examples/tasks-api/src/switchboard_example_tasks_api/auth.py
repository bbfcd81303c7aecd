"""Static bearer-key authentication, in the shape of Starlette's own middleware."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class BearerKeyMiddleware:
    """Require `Authorization: Bearer <api_key>` on every HTTP request."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        if not api_key:
            raise ValueError("`api_key` is empty; leave the middleware out to disable auth")
        self.app = app
        self._expected = f"Bearer {api_key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._authorized(Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"error": "unauthorized", "message": "send `Authorization: Bearer <TASKS_API_KEY>`"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="tasks"'},
        )
        await response(scope, receive, send)

    def _authorized(self, headers: Headers) -> bool:
        given = headers.get("authorization", "").encode()
        return hmac.compare_digest(given, self._expected)
