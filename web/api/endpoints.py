"""Declaring endpoints once: the route, its request and response models, and its OpenAPI entry."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match, Route

from registry.errors import ConflictError, InvalidDocumentError, Problem, RegistryError
from registry.models import Role
from registry.pointers import json_pointer, problems_from_validation
from web.api.deps import authenticate, require_role

MAX_BODY = 5 * 1024 * 1024
API_ROOT = "/api/"
NUL_PROBLEM = "contains a NUL character, which no stored text may hold"
RACE_ATTEMPTS = 3
UNIQUE_VIOLATION = "23505"
"""PostgreSQL's SQLSTATE for a unique constraint refusing a row (SQLite says so in words)."""
Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    response: Any = None
    body: type[BaseModel] | None = None
    status: int = 200
    query: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default_factory=tuple)
    role: Role = Role.user
    """The least role that may call this endpoint."""
    raw_body: tuple[str, ...] = ()
    """Media types of a body the handler takes as bytes (a document, not a JSON model), so the
    OpenAPI document can still say that a body is expected."""

    def route(self, prefix: str) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                request.state.principal = caller = await authenticate(request)
                require_role(caller, self.role)
                kwargs: dict[str, Any] = dict(request.path_params)
                for name in self.query:
                    kwargs[name] = request.query_params.get(name)
                _refuse_nul(kwargs)
                if self.body is not None:
                    kwargs["body"] = _parse_body(await _read_body(request), self.body)
                elif self.raw_body:
                    kwargs["body"] = await _read_body(request)
                result = await _call(self.handler, request, kwargs)
            except RegistryError as exc:
                return problem_response(exc)
            if result is None:
                return Response(status_code=204)
            payload = TypeAdapter(self.response).dump_python(result, mode="json")
            return JSONResponse(payload, status_code=self.status)

        return Route(
            prefix + self.path, endpoint, methods=[self.method], name=self.handler.__name__
        )


async def _call(handler: Handler, request: Request, kwargs: dict[str, Any]) -> Any:
    """Run the handler, again when a concurrent request stored the same row first.

    Handlers check, then write (is the team name free? is the user a member yet?): two requests
    at once both pass the check, and the database's unique constraint refuses the later write,
    undoing that request's transaction. Run again, its check sees the other's row and it answers
    as it would have one after the other (409 for a second team, 204 for a second member)."""
    attempt = 1
    while True:
        try:
            return await handler(request, **kwargs)
        except IntegrityError as exc:
            if not _unique_violation(exc):
                raise
            if attempt == RACE_ATTEMPTS:
                raise ConflictError(
                    "other requests kept changing the same records at the same moment; try again"
                ) from exc
            attempt += 1


def _unique_violation(exc: IntegrityError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate == UNIQUE_VIOLATION or "UNIQUE constraint failed" in str(exc.orig)


async def _read_body(request: Request) -> bytes:
    """The whole body, refused past `MAX_BODY` while it arrives."""
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY:
            raise RequestTooLargeError(f"request body exceeds {MAX_BODY // 1024 // 1024} MiB")
    return bytes(raw)


def _parse_body(raw: bytes, model: type[BaseModel]) -> BaseModel:
    try:
        data = json.loads(raw or b"null")
    except json.JSONDecodeError as exc:
        raise InvalidDocumentError(
            "request body", [Problem("", f"not valid JSON: {exc.msg} at line {exc.lineno}")]
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidDocumentError(
            "request body", [Problem("", "not valid JSON: not UTF-8 text")]
        ) from exc
    except RecursionError as exc:
        raise InvalidDocumentError(
            "request body", [Problem("", "not valid JSON: nested too deeply")]
        ) from exc
    if nul := [Problem(pointer, NUL_PROBLEM) for pointer in _nul_pointers(data)]:
        raise InvalidDocumentError("request body", nul)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidDocumentError("request body", problems_from_validation(exc)) from exc


def flag(name: str, value: str | None, *, default: bool = False) -> bool:
    """A yes-or-no query parameter; any other word is refused, not guessed at."""
    if value is None:
        return default
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise RegistryError(f"`{name}` is {value!r}; use true or false")


def _refuse_nul(parameters: dict[str, str | None]) -> None:
    for name, value in parameters.items():
        if value is not None and "\x00" in value:
            raise RegistryError(f"`{name}` {NUL_PROBLEM}")


def _nul_pointers(document: Any) -> Iterator[str]:
    """Where a JSON document holds a NUL character in a key or string (walked without
    recursion: the parser accepts nesting deeper than the stack left here)."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        pointer, value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            yield pointer or "/"
        elif isinstance(value, dict):
            for key, item in value.items():
                here = pointer + json_pointer([key])
                if "\x00" in key:
                    yield here
                stack.append((here, item))
        elif isinstance(value, list):
            stack.extend((pointer + json_pointer([i]), item) for i, item in enumerate(value))


class RequestTooLargeError(RegistryError):
    status_code = 413


def problem_response(exc: RegistryError) -> JSONResponse:
    """RFC 9457 problem details, with per-field problems for invalid documents."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": type(exc).__name__.removesuffix("Error"),
        "status": exc.status_code,
        "detail": str(exc),
    }
    if isinstance(exc, InvalidDocumentError):
        body["detail"] = f"{exc.source} is not valid"
        body["errors"] = [{"pointer": p.pointer or "/", "detail": p.message} for p in exc.problems]
    headers = {"WWW-Authenticate": 'Bearer realm="switchboard"'} if exc.status_code == 401 else None
    return JSONResponse(
        body, status_code=exc.status_code, media_type="application/problem+json", headers=headers
    )


async def http_problem(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such path, method not allowed) as problems under `/api`,
    like every other API error; elsewhere its plain-text default."""
    if not isinstance(exc, HTTPException):
        raise exc
    path = request.url.path
    if not path.startswith(API_ROOT):
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        detail = f"no API operation at {path}; /api/v1/openapi.json lists them all"
    elif exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
        detail = f"{request.method} is not allowed on {path}; use {headers['Allow']}"
    else:
        detail = str(exc.detail)
    body = {
        "type": "about:blank",
        "title": HTTPStatus(exc.status_code).phrase,
        "status": exc.status_code,
        "detail": detail,
    }
    return JSONResponse(
        body, status_code=exc.status_code, media_type="application/problem+json", headers=headers
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette's 405 names only the first
    route's, and each API endpoint is a route of its own)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] is Match.PARTIAL:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def openapi_document(endpoints: list[Endpoint], prefix: str, version: str) -> dict[str, Any]:
    components: dict[str, Any] = {"Problem": _PROBLEM}
    paths: dict[str, dict[str, Any]] = {}

    def schema_of(annotation: Any) -> dict[str, Any]:
        schema = TypeAdapter(annotation).json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        components.update(schema.pop("$defs", {}))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            components[annotation.__name__] = schema
            return {"$ref": f"#/components/schemas/{annotation.__name__}"}
        return schema

    for ep in endpoints:
        operation: dict[str, Any] = {
            "operationId": ep.handler.__name__,
            "summary": ep.summary,
            "tags": list(ep.tags),
            "responses": {
                "default": {
                    "description": "a problem (RFC 9457)",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                }
            },
        }
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_params(ep.path)
        ] + [{"name": q, "in": "query", "schema": {"type": "string"}} for q in ep.query]
        if params:
            operation["parameters"] = params
        if ep.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema_of(ep.body)}},
            }
        elif ep.raw_body:
            operation["requestBody"] = {
                "required": True,
                "content": {media: {"schema": {"type": "string"}} for media in ep.raw_body},
            }
        if ep.response is None:
            operation["responses"]["204"] = {"description": "done"}
        else:
            operation["responses"][str(ep.status)] = {
                "description": "success",
                "content": {"application/json": {"schema": schema_of(ep.response)}},
            }
        paths.setdefault(prefix + ep.path, {})[ep.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard API", "version": version},
        "paths": paths,
        "components": {"schemas": components},
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]


_PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
    },
    "required": ["title", "status", "detail"],
}
