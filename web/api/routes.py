"""Every `/api/v1` route, and the OpenAPI document that describes them."""

from __future__ import annotations

from importlib.metadata import version

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from agents.models import admin_api as models_admin
from web.api import access, agents, catalog, me, runs
from web.api.endpoints import openapi_document

PREFIX = "/api/v1"
ENDPOINTS = [
    *catalog.ENDPOINTS,
    *access.ENDPOINTS,
    *me.ENDPOINTS,
    *agents.ENDPOINTS,
    *runs.ENDPOINTS,
    *models_admin.ENDPOINTS,
]


def api_routes() -> list[BaseRoute]:
    document = openapi_document(ENDPOINTS, PREFIX, version("switchboard"))

    async def openapi(_: Request) -> JSONResponse:
        return JSONResponse(document)

    return [
        Route(PREFIX + "/openapi.json", openapi, methods=["GET"]),
        *runs.event_routes(PREFIX),
        *(endpoint.route(PREFIX) for endpoint in ENDPOINTS),
    ]
