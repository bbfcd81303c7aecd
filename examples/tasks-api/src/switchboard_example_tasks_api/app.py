"""The tasks HTTP API: routes, error bodies and wiring. `openapi.yaml` describes exactly this."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from switchboard_example_tasks_api.auth import BearerKeyMiddleware
from switchboard_example_tasks_api.models import ListQuery, Task, TaskCreate, TaskList, TaskUpdate
from switchboard_example_tasks_api.store import TaskStore

BodyT = TypeVar("BodyT", TaskCreate, TaskUpdate)

_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}


class ApiError(Exception):
    """An error answered as `{"error": code, "message": ...}` with `status`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _invalid(exc: ValidationError) -> ApiError:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
    )
    return ApiError(422, "validation_error", problems)


def _query(request: Request) -> ListQuery:
    try:
        return ListQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise _invalid(exc) from None


async def _body(request: Request, model: type[BodyT]) -> BodyT:
    """The body as `model`, parsed as JSON so its types are JSON's, not Python's."""
    raw = await request.body()
    try:
        json.loads(raw)
    except ValueError:
        raise ApiError(400, "bad_request", "the body is not JSON") from None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


class TaskEndpoints:
    """One method per operation; the method names are the OpenAPI `operationId`s in snake case."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store

    async def list_tasks(self, request: Request) -> Response:
        tasks, total = self.store.search(_query(request))
        return _json(TaskList(tasks=tasks, total=total))

    async def create_task(self, request: Request) -> Response:
        task = self.store.create(await _body(request, TaskCreate))
        return _json(task, 201, headers={"Location": f"/tasks/{task.id}"})

    async def get_task(self, request: Request) -> Response:
        return _json(_found(self.store.get(_task_id(request)), request))

    async def update_task(self, request: Request) -> Response:
        body = await _body(request, TaskUpdate)
        return _json(_found(self.store.update(_task_id(request), body), request))

    async def complete_task(self, request: Request) -> Response:
        return _json(_found(self.store.complete(_task_id(request)), request))

    async def delete_task(self, request: Request) -> Response:
        if not self.store.delete(_task_id(request)):
            raise ApiError(404, "not_found", f"no task {_task_id(request)}")
        return Response(status_code=204)

    def routes(self) -> list[Route]:
        return [
            Route("/tasks", self.list_tasks, methods=["GET"]),
            Route("/tasks", self.create_task, methods=["POST"]),
            Route("/tasks/{task_id:int}", self.get_task, methods=["GET"]),
            Route("/tasks/{task_id:int}", self.update_task, methods=["PATCH"]),
            Route("/tasks/{task_id:int}", self.delete_task, methods=["DELETE"]),
            Route("/tasks/{task_id:int}/complete", self.complete_task, methods=["POST"]),
        ]


def _task_id(request: Request) -> int:
    return int(request.path_params["task_id"])


def _found(task: Task | None, request: Request) -> Task:
    if task is None:
        raise ApiError(404, "not_found", f"no task {_task_id(request)}")
    return task


async def _api_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ApiError):
        status, code, message = exc.status, exc.code, exc.message
    elif isinstance(exc, HTTPException):
        status, code, message = exc.status_code, _CODES.get(exc.status_code, "error"), exc.detail
    else:  # pragma: no cover - Starlette only routes the registered types here
        raise exc
    return JSONResponse({"error": code, "message": message}, status_code=status)


def create_app(store: TaskStore | None = None, api_key: str | None = None) -> Starlette:
    """The API over `store` (a fresh in-memory one by default); `api_key` turns on auth."""
    endpoints = TaskEndpoints(store or TaskStore())
    middleware = [Middleware(BearerKeyMiddleware, api_key=api_key)] if api_key else []
    return Starlette(
        routes=endpoints.routes(),
        middleware=middleware,
        exception_handlers={ApiError: _api_error, HTTPException: _api_error},
    )
