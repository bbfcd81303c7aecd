"""Schemathesis-generated requests against every operation of the JSON API.

Schemathesis reads the OpenAPI document `/api/v1/openapi.json` serves and generates requests
that fit it and requests that break it (wrong types, missing fields, odd path and query
values); they are sent in process to the real app as an admin, a plain user or nobody. Whatever
arrives, the API must not fail (no 5xx) and must explain every refusal: a 4xx carries a JSON
body naming the problem.
"""

from __future__ import annotations

import html
import re
from importlib.metadata import version
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from starlette.applications import Starlette

from registry.models import Role
from tests.conftest import user_with_token
from web.api.endpoints import openapi_document
from web.api.routes import ENDPOINTS, PREFIX

BASE_URL = "http://127.0.0.1:8080"
DOCUMENT = openapi_document(ENDPOINTS, PREFIX, version("switchboard"))
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
CASES = st.one_of(
    SCHEMA.as_strategy(generation_mode=GenerationMode.POSITIVE),
    SCHEMA.as_strategy(generation_mode=GenerationMode.NEGATIVE),
)
FUZZ = settings(
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
"""Deterministic (a fixed seed, no example database); one app for every example."""


class Callers:
    """The credentials each kind of caller sends, and the tokens the fuzzer must not revoke
    (it would only lock itself out)."""

    def __init__(self, headers: dict[str, dict[str, str]], own_tokens: set[str]) -> None:
        self.headers = headers
        self.own_tokens = own_tokens


@pytest.fixture
async def callers(app: Starlette, anonymous: httpx.AsyncClient) -> Callers:
    served = await anonymous.get(f"{PREFIX}/openapi.json")
    assert served.json() == DOCUMENT, "the fuzzer must read the document the API serves"
    services = app.state.services
    headers: dict[str, dict[str, str]] = {"nobody": {}}
    own: set[str] = set()
    for name, role in (("admin", Role.admin), ("user", Role.user)):
        token = await user_with_token(services, f"fuzz-{name}", role, ["api"])
        headers[name] = {"Authorization": f"Bearer {token}"}
        listed = await anonymous.get(f"{PREFIX}/me/tokens", headers=headers[name])
        own.update(str(row["id"]) for row in listed.json())
    return Callers(headers, own)


def prepared(case: Case) -> requests.PreparedRequest:
    """The request exactly as schemathesis would send it, to be sent through httpx instead
    (in process, on the test's event loop)."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    fields = {"method", "url", "headers", "params", "json", "data", "cookies", "files"}
    return requests.Request(**{k: v for k, v in kwargs.items() if k in fields}).prepare()


def explains(response: httpx.Response) -> str:
    """The problem a 4xx response names in its JSON body (RFC 9457 `detail` and per-field
    `errors`, or `/mcp`'s `error`)."""
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith(("application/json", "application/problem+json")), (
        f"{response.status_code} is not JSON ({content_type!r}): {response.text[:200]}"
    )
    body: Any = response.json()
    assert isinstance(body, dict), body
    message = body.get("detail") or body.get("error")
    assert isinstance(message, str), f"{response.status_code} names no problem: {body}"
    assert message.strip(), f"{response.status_code} names no problem: {body}"
    return " ".join([message, *(e["detail"] for e in body.get("errors", []))])


@FUZZ
@given(case=CASES, who=st.sampled_from(["admin", "user", "nobody"]))
async def test_the_api_never_fails_and_explains_every_refusal(
    anonymous: httpx.AsyncClient, callers: Callers, case: Case, who: str
) -> None:
    if case.method == "DELETE" and case.path.endswith("/me/tokens/{token_id}"):
        assume(str((case.path_parameters or {}).get("token_id")) not in callers.own_tokens)
    if case.method == "POST" and case.path.endswith("/servers"):
        case.query = {**(case.query or {}), "discover": "false"}
    request = prepared(case)
    response = await anonymous.request(
        request.method or "GET",
        request.url or BASE_URL,
        content=request.body,
        headers={**request.headers, **callers.headers[who]},
    )
    assert response.status_code < 500, f"{request.method} {request.url}: {response.text[:500]}"
    if response.status_code >= 400:
        explains(response)


BAD_REQUESTS = [
    ("GET", "/nowhere", None, "no API operation at /api/v1/nowhere"),
    ("PATCH", "/servers", None, "PATCH is not allowed on /api/v1/servers; use GET, HEAD, POST"),
    ("POST", "/servers", b"\x80{}", "not UTF-8"),
    ("POST", "/servers", b"[" * 100_000, "nested too deeply"),
    ("POST", "/teams", b'{"name": ["a", "b"]}', "is not valid"),
    ("POST", "/teams", b'{"name": "a\\u0000b"}', "contains a NUL character"),
    ("GET", "/servers/a%00b", None, "`server` contains a NUL character"),
    ("DELETE", "/me/tokens/\u00b2", None, "no token"),
    ("DELETE", "/me/tokens/" + "9" * 40, None, "no token"),
]
"""What the fuzzer found once (a 5xx or a plain-text 4xx), kept as plain regression cases."""


async def test_hand_picked_bad_requests_are_explained(
    anonymous: httpx.AsyncClient, callers: Callers
) -> None:
    for method, path, body, problem in BAD_REQUESTS:
        response = await anonymous.request(
            method,
            PREFIX + path,
            content=body,
            headers={**callers.headers["admin"], "Content-Type": "application/json"},
        )
        assert 400 <= response.status_code < 500, (method, path, response.text)
        assert problem in explains(response), (method, path)


async def test_nul_characters_in_sign_in_and_oauth_are_refused(
    anonymous: httpx.AsyncClient,
) -> None:
    """PostgreSQL refuses NUL in text, which made these a 500 there."""
    response = await anonymous.get(
        "/oauth/authorize", params={"client_id": "a\x00b", "response_type": "code"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert "no valid client_id" in response.text

    page = await anonymous.get("/signin")
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    form = {**{k: html.unescape(v) for k, v in fields.items()}, "username": "a\x00b"}
    signed_in = await anonymous.post("/signin", data={**form, "password": "whatever"})
    assert signed_in.status_code == 401, signed_in.text
