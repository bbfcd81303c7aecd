"""The tasks API example: its behaviour, and that `openapi.yaml` describes it exactly.

The drift test calls every documented operation, checks each answer's status is
documented for that operation and its body validates against the documented schema, and
fails if any documented (operation, status) pair is never produced.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Route
from starlette.testclient import TestClient
from switchboard_example_tasks_api.app import create_app
from switchboard_example_tasks_api.store import TaskStore

SPEC_PATH = Path(__file__).resolve().parents[3] / "examples" / "tasks-api" / "openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
SPEC_URI = "urn:switchboard-example:tasks-openapi"
REGISTRY: Registry[Any] = Registry().with_resource(
    SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
SERVER_URL = "http://127.0.0.1:8081"
API_KEY = "test-key"
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def resolve(obj: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
    """Follow local `$ref`s (responses, parameters) to an object and its JSON pointer."""
    while "$ref" in obj:
        pointer = obj["$ref"].removeprefix("#")
        obj = SPEC
        for part in pointer.strip("/").split("/"):
            obj = obj[part.replace("~1", "/").replace("~0", "~")]
    return obj, pointer


def validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{pointer}"},
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    template: str
    pointer: str
    spec: dict[str, Any]

    def matches(self, method: str, path: str) -> bool:
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", self.template)
        return method.lower() == self.method and re.fullmatch(pattern, path) is not None

    def parameters(self) -> list[dict[str, Any]]:
        path_item = SPEC["paths"][self.template]
        raw = [*path_item.get("parameters", []), *self.spec.get("parameters", [])]
        return [resolve(p, "")[0] for p in raw]


OPERATIONS = [
    Operation(op["operationId"], method, template, f"/paths/{escape(template)}/{method}", op)
    for template, item in SPEC["paths"].items()
    for method, op in item.items()
    if method in HTTP_METHODS
]
DOCUMENTED = {(op.id, status) for op in OPERATIONS for status in op.spec["responses"]}


@dataclass
class SpecClient:
    """An HTTP client that checks every exchange against `openapi.yaml`."""

    http: httpx.AsyncClient
    seen: set[tuple[str, str]] = field(default_factory=set)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        body_valid: bool | None = None,
    ) -> httpx.Response:
        operation = next(op for op in OPERATIONS if op.matches(method, path))
        documented_params = {p["name"] for p in operation.parameters() if p["in"] == "query"}
        assert set(params or {}) <= documented_params, f"{operation.id}: undocumented query"
        if body_valid is not None:
            body_schema = f"{operation.pointer}/requestBody/content/application~1json/schema"
            assert validator(body_schema).is_valid(json) is body_valid, (
                f"{operation.id}: the spec and the app disagree on whether {json!r} is valid"
            )
        response = await self.http.request(method, path, json=json, content=content, params=params)
        self._check(operation, response)
        return response

    def _check(self, operation: Operation, response: httpx.Response) -> None:
        status = str(response.status_code)
        responses = operation.spec["responses"]
        assert status in responses, f"{operation.id} answered undocumented {status}"
        documented, pointer = resolve(responses[status], f"{operation.pointer}/responses/{status}")
        for header in documented.get("headers", {}):
            assert header.lower() in response.headers, f"{operation.id} {status}: no {header}"
        if "content" in documented:
            assert response.headers["content-type"] == "application/json"
            schema = validator(f"{pointer}/content/application~1json/schema")
            problems = [e.message for e in schema.iter_errors(response.json())]
            assert not problems, f"{operation.id} {status} body drifted: {problems}"
        else:
            assert response.content == b""
        self.seen.add((operation.id, status))


@pytest.fixture
def store() -> Iterator[TaskStore]:
    store = TaskStore()
    yield store
    store.close()


@pytest.fixture
async def http(store: TaskStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(store, api_key=API_KEY)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=SERVER_URL,
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as client:
        yield client


def test_the_spec_is_openapi_3_1_with_valid_schemas() -> None:
    assert SPEC["openapi"].startswith("3.1.")
    assert SPEC["servers"] == [
        {"url": SERVER_URL, "description": "The service started locally with its default port."}
    ]
    for schema in SPEC["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_operation_is_described_and_scoped() -> None:
    schemes = SPEC["components"]["securitySchemes"]
    scopes = set(schemes["oauth2"]["flows"]["clientCredentials"]["scopes"])
    assert scopes == {"tasks:read", "tasks:write"}
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert len({op.id for op in OPERATIONS}) == len(OPERATIONS) == 6
    for op in OPERATIONS:
        assert op.spec["summary"]
        wanted = "tasks:read" if op.method == "get" else "tasks:write"
        assert op.spec["security"] == [{"oauth2": [wanted]}, {"bearerAuth": []}], op.id
        success = [s for s in op.spec["responses"] if s.startswith("2")]
        assert len(success) == 1, op.id


def test_the_spec_lists_exactly_the_apps_routes() -> None:
    app = create_app(TaskStore())
    routes = {
        (method.lower(), re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }

    assert routes == {(op.method, op.template) for op in OPERATIONS}


async def test_every_documented_response_matches_the_app(http: httpx.AsyncClient) -> None:
    api = SpecClient(http)

    first = await api.request(
        "POST",
        "/tasks",
        json={"title": "Renew passport", "tags": ["admin"], "due_date": "2026-03-01"},
        body_valid=True,
    )
    task_id = first.json()["id"]
    assert first.headers["location"] == f"/tasks/{task_id}"
    await api.request(
        "POST", "/tasks", json={"title": "Water plants", "description": None}, body_valid=True
    )
    await api.request("POST", "/tasks", content=b"{not json")
    for invalid in (
        {"title": ""},
        {"title": "x" * 201},
        {"title": "ok", "tags": ["has space"]},
        {"title": "ok", "due_date": "tomorrow"},
        {"title": "ok", "priority": 1},
        {"description": "no title"},
    ):
        response = await api.request("POST", "/tasks", json=invalid, body_valid=False)
        assert response.status_code == 422, invalid

    await api.request("GET", "/tasks")
    await api.request(
        "GET",
        "/tasks",
        params={
            "done": "false",
            "tag": "admin",
            "due_before": "2027-01-01",
            "limit": "5",
            "offset": "0",
        },
    )
    await api.request("GET", "/tasks", params={"limit": "0"})
    await api.request("GET", f"/tasks/{task_id}")
    await api.request("GET", "/tasks/999")

    await api.request(
        "PATCH",
        f"/tasks/{task_id}",
        json={"description": "Form B", "due_date": None, "tags": []},
        body_valid=True,
    )
    await api.request("PATCH", f"/tasks/{task_id}", content=b"[")
    await api.request("PATCH", "/tasks/999", json={"title": "gone"}, body_valid=True)
    for change in ({"done": "yes"}, {"title": None}, {"tags": "admin"}):
        response = await api.request("PATCH", f"/tasks/{task_id}", json=change, body_valid=False)
        assert response.status_code == 422, change

    await api.request("POST", f"/tasks/{task_id}/complete")
    await api.request("POST", "/tasks/999/complete")
    await api.request("DELETE", f"/tasks/{task_id}")
    await api.request("DELETE", f"/tasks/{task_id}")

    http.headers.pop("Authorization")
    for op in OPERATIONS:
        path = op.template.replace("{task_id}", "1")
        response = await api.request(
            op.method.upper(), path, json={} if "requestBody" in op.spec else None
        )
        assert response.headers["www-authenticate"] == 'Bearer realm="tasks"'

    assert api.seen == DOCUMENTED


async def test_list_filters_orders_and_pages(http: httpx.AsyncClient) -> None:
    for body in (
        {"title": "later", "due_date": "2026-05-01", "tags": ["home"]},
        {"title": "undated", "tags": ["home", "garden"]},
        {"title": "sooner", "due_date": "2026-02-01", "tags": ["work"]},
    ):
        (await http.post("/tasks", json=body)).raise_for_status()
    await http.post("/tasks/3/complete")

    everything = (await http.get("/tasks")).json()
    home = (await http.get("/tasks", params={"tag": "home"})).json()
    before = (await http.get("/tasks", params={"due_before": "2026-03-01"})).json()
    page = (await http.get("/tasks", params={"limit": "1", "offset": "1"})).json()
    done = (await http.get("/tasks", params={"done": "true"})).json()

    assert [t["title"] for t in everything["tasks"]] == ["later", "undated", "sooner"]
    assert [t["title"] for t in home["tasks"]] == ["later", "undated"]
    assert [t["title"] for t in before["tasks"]] == ["sooner"]
    assert (page["total"], [t["title"] for t in page["tasks"]]) == (3, ["undated"])
    assert [t["title"] for t in done["tasks"]] == ["sooner"]


async def test_update_changes_only_given_fields_and_reopens(http: httpx.AsyncClient) -> None:
    body = {"title": "t", "description": "d", "tags": ["a"]}
    path = f"/tasks/{(await http.post('/tasks', json=body)).json()['id']}"
    completed = (await http.post(f"{path}/complete")).json()
    completed_again = (await http.post(f"{path}/complete")).json()
    marked_done = (await http.patch(path, json={"done": True})).json()
    reopened = (await http.patch(path, json={"done": False, "description": None})).json()

    assert completed["done"] is True
    assert completed["completed_at"] is not None
    assert completed_again["completed_at"] == completed["completed_at"]
    assert marked_done["completed_at"] == completed["completed_at"]
    assert reopened["done"] is False
    assert reopened["completed_at"] is None
    assert reopened["description"] is None
    assert (reopened["title"], reopened["tags"]) == ("t", ["a"])


async def test_errors_are_json(http: httpx.AsyncClient) -> None:
    wrong_method = await http.put("/tasks")
    unknown = await http.get("/nowhere")
    bad_id = await http.get("/tasks/abc")

    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"
    assert unknown.json() == {"error": "not_found", "message": "Not Found"}
    assert bad_id.status_code == 404


async def test_without_a_key_the_api_is_open(store: TaskStore) -> None:
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url=SERVER_URL) as client:
        response = await client.get("/tasks")

    assert response.status_code == 200


def test_a_wrong_key_is_refused(store: TaskStore) -> None:
    with TestClient(create_app(store, api_key=API_KEY)) as client:
        response = client.get("/tasks", headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_python_dash_m_serves_the_api_with_a_key() -> None:
    port = _free_port()
    env = {**os.environ, "TASKS_API_KEY": API_KEY}
    command = [sys.executable, "-m", "switchboard_example_tasks_api", "--port", str(port)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}/tasks"
        deadline = time.monotonic() + 20
        while True:
            try:
                anonymous = httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        created = httpx.post(
            url, json={"title": "hello"}, headers={"Authorization": f"Bearer {API_KEY}"}
        )
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert anonymous.status_code == 401
    assert created.status_code == 201
    assert json.loads(created.content)["title"] == "hello"
