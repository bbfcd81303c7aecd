"""Generated and hand-picked bad input against `/mcp`, in both protocol eras.

The 2025-11-25 era talks through one `initialize`d session (`Mcp-Session-Id`); the 2026-07-28
era sends self-contained requests that the SDK routes by their `MCP-Protocol-Version`,
`Mcp-Method` and `Mcp-Name` headers. Whatever arrives, the endpoint must answer without a 5xx,
every JSON-RPC message it sends must be well formed and carry a spec error code, it must still
answer a plain `tools/list` afterwards, and every call that reached a granted tool must have
left its audit record. The tools are catalogue-only (no package), so their calls end in an
error result, which is audited like any other.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import mcp_types as types
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from mcp.shared.inbound import encode_header_value
from sqlmodel import col, select
from starlette.applications import Starlette

from registry import grants, review
from registry.lookup import get_server
from registry.teams import ensure_team, ensure_user
from registry.tooldefs import Tool, ToolDefinition
from switchboard.audit.models import AuditRecord
from switchboard.services import Services
from switchboard.settings import Settings
from tests.integration.registry.conftest import make_tool, publish_tools
from toolhost.calls import RATE_LIMITED, arguments_digest

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"
GRANTED = ("api.get", "api.list", "api.search")
NOT_GRANTED = ("hidden.secret",)
SPEC_ERRORS = {
    types.PARSE_ERROR,
    types.INVALID_REQUEST,
    types.METHOD_NOT_FOUND,
    types.INVALID_PARAMS,
    types.HEADER_MISMATCH,
    types.MISSING_REQUIRED_CLIENT_CAPABILITY,
    types.UNSUPPORTED_PROTOCOL_VERSION,
    RATE_LIMITED,
}
"""JSON-RPC's own codes, the 2026-07-28 routing codes, and Switchboard's rate limit: all a
client's fault. An internal error (-32603) in answer to bad input would be a bug here."""
FORWARDED = {"prompts/get", "completion/complete", "resources/read"}
"""Requests sent on to the one hosted server they name: when that server cannot run (the
catalogue-only `api` never can), the failure is the server's, an internal error."""
MODERN_META = {
    types.PROTOCOL_VERSION_META_KEY: MODERN,
    types.CLIENT_CAPABILITIES_META_KEY: {},
    types.CLIENT_INFO_META_KEY: {"name": "fuzz", "version": "0"},
}
FUZZ = hypothesis.settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
"""Deterministic (no example database, a fixed seed), and one app shared by every example on
purpose: what one bad message leaves behind must not hurt the next."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Bodies up to 6 MiB: more than the SDK's own 4 MiB default, so that the tests see
    `SWITCHBOARD_MAX_REQUEST_BYTES` rule on its own."""
    return settings.model_copy(update={"max_request_bytes": 6 * 1024 * 1024})


async def publish_catalogue(services: Services) -> None:
    """`api` (three tools, one with a schema to fail) granted to the default team, and
    `hidden`, approved but granted to nobody."""
    search = ToolDefinition(
        tool=Tool(
            name="search",
            description="searches",
            input_schema={
                "type": "object",
                "properties": {"q": {"type": "string", "maxLength": 20}},
                "required": ["q"],
            },
        )
    )
    async with services.transaction() as session:
        team = await ensure_team(session, services.settings.default_team)
        actor = await ensure_user(session, "reviewer")
    await publish_tools(services, team, actor, [make_tool("list"), make_tool("get"), search])
    await publish_tools(services, team, actor, [make_tool("secret")], name="com.example/hidden")
    async with services.transaction() as session:
        actor = await ensure_user(session, "reviewer")
        await review.approve(session, "api", actor=actor)
        await review.approve(session, "hidden", actor=actor)
        team = await ensure_team(session, services.settings.default_team)
        await grants.grant(session, team, await get_server(session, "api"), ["*"], actor=actor)


@dataclass
class Ledger:
    """What every probe of one app should leave behind: the tools alice sees, and the calls
    that reached a tool (each must have its audit record)."""

    services: Services
    visible: tuple[str, ...] = GRANTED
    reached: Counter[tuple[str, str]] = field(default_factory=Counter)

    async def audited(self, denied: bool = False) -> Counter[tuple[str, str]]:
        """(tool, argument digest) of every `tool.call` audit record of a call that reached the
        call path (or, with `denied`, of one naming a tool of a server not granted)."""
        async with self.services.sessions() as session:
            rows = await session.exec(
                select(AuditRecord)
                .where(AuditRecord.action == "tool.call")
                .order_by(col(AuditRecord.seq))
            )
            return Counter(
                (row.target or "", row.detail["arguments_digest"])
                for row in rows
                if (row.outcome == "denied") == denied
            )


@dataclass
class Probe:
    """One caller of `/mcp` in one protocol era."""

    http: httpx.AsyncClient
    era: str
    ledger: Ledger
    session_id: str | None = None

    def headers(self, message: Any) -> dict[str, str]:
        headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
        if self.era == LEGACY:
            assert self.session_id is not None
            return {**headers, "Mcp-Session-Id": self.session_id, "MCP-Protocol-Version": LEGACY}
        headers["MCP-Protocol-Version"] = MODERN
        if isinstance(message, dict) and isinstance(message.get("method"), str):
            headers["Mcp-Method"] = encode_header_value(message["method"])
            params = message.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            if isinstance(name, str):
                headers["Mcp-Name"] = encode_header_value(name)
        return headers

    def envelope(self, message: Any) -> Any:
        """A 2026-07-28 request carries its protocol version and capabilities in `_meta`."""
        if self.era != MODERN or not isinstance(message, dict) or "method" not in message:
            return message
        params = message.get("params", {})
        if not isinstance(params, dict):
            return message
        meta = params.get("_meta")
        return {**message, "params": {**params, "_meta": {**MODERN_META, **(meta or {})}}}

    async def send(self, message: Any) -> httpx.Response:
        message = self.envelope(message)
        return await self.post(json.dumps(message).encode(), self.headers(message), message)

    async def post(self, body: bytes, headers: dict[str, str], sent: Any = None) -> httpx.Response:
        response = await self.http.post("/mcp", content=body, headers=headers)
        forwarded = isinstance(sent, dict) and sent.get("method") in FORWARDED
        messages = checked(response, forwarded)
        batch = sent if isinstance(sent, list) else [sent]
        sent_ids = [m.get("id") for m in batch if isinstance(m, dict)]
        for message in messages:
            if "method" not in message:
                assert message["id"] is None or message["id"] in sent_ids, (message, sent)
        self._count(sent, messages)
        return response

    def _count(self, sent: Any, messages: list[dict[str, Any]]) -> None:
        """A `tools/call` of a granted tool that got a result (or was refused by the call path
        itself, for the rate limit) reached the tool, so it must be in the audit log."""
        if not isinstance(sent, dict) or sent.get("method") != "tools/call":
            return
        params = sent.get("params")
        if not isinstance(params, dict) or params.get("name") not in GRANTED:
            return
        for message in messages:
            refused = message.get("error", {}).get("code") == RATE_LIMITED
            if message.get("id") == sent.get("id") and ("result" in message or refused):
                arguments = params.get("arguments") or {}
                self.ledger.reached[(params["name"], arguments_digest(arguments))] += 1

    async def tools(self) -> tuple[str, ...]:
        response = await self.send({"jsonrpc": "2.0", "id": "check", "method": "tools/list"})
        assert response.status_code == 200, response.text
        (message,) = checked(response)
        return tuple(sorted(tool["name"] for tool in message["result"]["tools"]))


def checked(response: httpx.Response, forwarded: bool = False) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a response, each checked to be well formed (and, unless the
    request was `forwarded` to a hosted server, with an error code for the client's fault)."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("text/event-stream"):
        messages = [json.loads(data) for data in sse_data(response.text)]
    elif content_type.startswith("application/json") and response.content:
        decoded = json.loads(response.content)
        messages = [decoded] if isinstance(decoded, dict) and "jsonrpc" in decoded else []
    else:
        messages = []
    codes = SPEC_ERRORS | {types.INTERNAL_ERROR} if forwarded else SPEC_ERRORS
    for message in messages:
        well_formed(message, codes)
    return messages


def sse_data(stream: str) -> list[str]:
    """The data of each event of a `text/event-stream`, lines split only where SSE splits
    them (a JSON string may hold U+2028, which `str.splitlines` would split on). An event
    with empty data, such as the priming event of a resumable stream, is not dispatched."""
    events, data = [], []
    for line in re.split(r"\r\n|\r|\n", stream):
        if not line:
            if "\n".join(data):
                events.append("\n".join(data))
            data = []
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))
    return events


def well_formed(message: dict[str, Any], codes: set[int]) -> None:
    assert message["jsonrpc"] == "2.0", message
    if "method" in message:
        assert isinstance(message["method"], str), message
        return
    assert "id" in message, message
    assert ("result" in message) != ("error" in message), message
    if "error" in message:
        error = message["error"]
        assert isinstance(error["message"], str), message
        assert error["code"] in codes, message
    else:
        assert isinstance(message["result"], dict), message


async def open_session(http: httpx.AsyncClient, ledger: Ledger) -> Probe:
    opened = await http.post(
        "/mcp",
        json={
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": LEGACY,
                "capabilities": {},
                "clientInfo": {"name": "fuzz", "version": "0"},
            },
        },
        headers={"Accept": ACCEPT},
    )
    assert opened.status_code == 200, opened.text
    probe = Probe(http, LEGACY, ledger, opened.headers["mcp-session-id"])
    ready = await probe.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert ready.status_code == 202
    return probe


@pytest.fixture
async def probes(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[dict[str, Probe]]:
    """alice (admin, `api mcp` token) on one app in both eras; afterwards the endpoint must
    still list her tools in each, and the audit log must hold exactly the calls that reached
    a tool."""
    services: Services = app.state.services
    await publish_catalogue(services)
    ledger = Ledger(services)
    probes = {LEGACY: await open_session(client, ledger), MODERN: Probe(client, MODERN, ledger)}
    for probe in probes.values():
        assert await probe.tools() == GRANTED
    yield probes
    for probe in probes.values():
        assert await probe.tools() == ledger.visible, f"{probe.era}: the endpoint stopped answering"
    assert await ledger.audited() == ledger.reached, "a call that reached a tool went unaudited"


# -- strategies ---------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
request_ids = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53),
    st.integers(min_value=2**63, max_value=10**40),
    st.text(max_size=12),
    st.just("i" * 10_000),
    json_values,
)
methods = st.one_of(
    st.sampled_from(
        [
            "ping",
            "initialize",
            "tools/list",
            "tools/call",
            "resources/list",
            "resources/read",
            "resources/templates/list",
            "prompts/list",
            "prompts/get",
            "completion/complete",
            "logging/setLevel",
            "server/discover",
            "subscriptions/listen",
            "tasks/get",
            "tasks/update",
            "tasks/cancel",
            "notifications/initialized",
            "notifications/cancelled",
            "notifications/progress",
        ]
    ),
    st.text(max_size=20),
)
tool_names = st.one_of(st.sampled_from(GRANTED + NOT_GRANTED), st.text(max_size=20))
arguments = st.one_of(
    st.fixed_dictionaries({}, optional={"q": json_values}),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    st.just({"q": "x" * 200_000}),
    json_values,
)
call_params = st.fixed_dictionaries(
    {"name": tool_names},
    optional={
        "arguments": arguments,
        "_meta": st.dictionaries(st.sampled_from(["progressToken", "x"]), json_values, max_size=2),
    },
)
params = st.one_of(call_params, st.dictionaries(st.text(max_size=8), json_values), json_values)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly valid-shaped requests and notifications, with a field or two gone wrong."""
    method = draw(methods)
    message: dict[str, Any] = {"jsonrpc": draw(st.sampled_from(["2.0", "2.0", "2.0", "1.0"]))}
    if draw(st.integers(0, 4)):
        message["id"] = draw(request_ids)
    message["method"] = method
    if method == "tools/call" or draw(st.booleans()):
        message["params"] = draw(call_params if method == "tools/call" else params)
    return message


responses = st.builds(
    lambda id_, result, error: (
        {"jsonrpc": "2.0", "id": id_, "result": result}
        if error is None
        else {"jsonrpc": "2.0", "id": id_, "error": error}
    ),
    request_ids,
    st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    st.none() | st.fixed_dictionaries({"code": st.integers(), "message": st.text(max_size=20)}),
)
tool_calls = st.builds(
    lambda id_, params: {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params},
    st.integers() | st.text(max_size=8),
    st.fixed_dictionaries(
        {"name": st.sampled_from(GRANTED)},
        optional={
            "arguments": arguments,
            "_meta": st.fixed_dictionaries({"progressToken": scalars}),
        },
    ),
)
messages = st.one_of(
    tool_calls,
    requests(),
    requests(),
    responses,
    st.lists(requests() | responses, max_size=4),
    json_values,
)


def not_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return True
    return False


@st.composite
def malformed_bodies(draw: st.DrawFn) -> bytes:
    """Bytes that are not one JSON document: cut short, mangled, deeply nested or binary."""
    whole = json.dumps(draw(requests())).encode()
    return draw(
        st.one_of(
            st.just(whole[: draw(st.integers(0, max(len(whole) - 1, 0)))]),
            st.just(whole + b"}"),
            st.just(whole.replace(b'"', b"'")),
            st.just(whole[:-1] + b",}"),
            st.just(whole.replace(b":", b"=", 1)),
            st.just(b"\xff\xfe" + whole),
            st.just(b"[" * 20_000 + b"]" * 20_000),
            st.just(b'{"method":"tools/call","params":' + b"[" * 20_000),
            st.binary(max_size=64).filter(not_json),
        )
    )


# -- generated traffic --------------------------------------------------------------------------

eras = st.sampled_from([LEGACY, MODERN])


@FUZZ
@given(era=eras, message=messages)
async def test_generated_messages_get_well_formed_answers(
    probes: dict[str, Probe], era: str, message: Any
) -> None:
    await probes[era].send(message)


@hypothesis.settings(FUZZ, max_examples=80)
@given(era=eras, body=malformed_bodies())
async def test_malformed_bodies_get_parse_errors(
    probes: dict[str, Probe], era: str, body: bytes
) -> None:
    probe = probes[era]
    response = await probe.post(body, probe.headers(None))
    assert response.status_code == 400, response.text
    (message,) = checked(response)
    assert message["id"] is None
    assert message["error"]["code"] == types.PARSE_ERROR


@hypothesis.settings(FUZZ, max_examples=40)
@given(
    era=eras,
    content_type=st.sampled_from(
        ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "", "json"]
    ),
    accept=st.sampled_from([ACCEPT, "text/html", "application/json", "text/event-stream", ""]),
)
async def test_wrong_content_types_are_refused(
    probes: dict[str, Probe], era: str, content_type: str, accept: str
) -> None:
    probe = probes[era]
    message = probe.envelope({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    headers = {**probe.headers(message), "Content-Type": content_type, "Accept": accept}
    response = await probe.post(json.dumps(message).encode(), headers, message)
    assert 400 <= response.status_code < 500, response.text


# -- hand-picked bad input ----------------------------------------------------------------------


def call(name: Any, arguments: Any = None, id_: int = 1) -> dict[str, Any]:
    params = {"name": name} if arguments is None else {"name": name, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params}


async def test_deeply_nested_tool_calls_get_a_parse_error_not_a_crash(
    probes: dict[str, Probe],
) -> None:
    """Too deep for a JSON parser's recursion limit (the SDK's is 200; Python's own raises
    `RecursionError`, not `ValueError`)."""
    for probe in probes.values():
        for depth in (1_000, 100_000):
            nested = b"[" * depth + b"]" * depth
            body = json.dumps(call("NAME")).encode().replace(b'"NAME"', nested)
            response = await probe.post(body, probe.headers(call("api.list")))
            assert response.status_code == 400, response.text
            (message,) = checked(response)
            assert message["error"]["code"] == types.PARSE_ERROR


async def test_unknown_methods_get_method_not_found(probes: dict[str, Probe]) -> None:
    for probe in probes.values():
        response = await probe.send({"jsonrpc": "2.0", "id": 7, "method": "tools/explode"})
        (message,) = checked(response)
        assert message["id"] == 7
        assert message["error"]["code"] == types.METHOD_NOT_FOUND


async def test_batches_are_refused_whole(probes: dict[str, Probe]) -> None:
    """JSON-RPC batching left MCP in 2025-06-18: no call in a batch may run. (The SDK's
    handshake-era transport answers -32602 rather than -32600 here.)"""
    for probe in probes.values():
        batch = [probe.envelope(call("api.list", id_=n)) for n in (1, 2)]
        response = await probe.post(json.dumps(batch).encode(), probe.headers(batch[0]), batch)
        assert response.status_code == 400, response.text
        (message,) = checked(response)
        assert message["error"]["code"] in (types.INVALID_REQUEST, types.INVALID_PARAMS)
    assert not await probes[LEGACY].ledger.audited(), "a call in a batch ran"


async def test_tools_not_granted_get_unknown_tool(probes: dict[str, Probe]) -> None:
    for probe in probes.values():
        for name in ("hidden.secret", "api.nope", "", "api.list\u0000", "API.LIST"):
            (message,) = checked(await probe.send(call(name)))
            assert message["error"]["code"] == types.INVALID_PARAMS, message
            assert message["error"]["message"] == f"Unknown tool: {name}"
    ledger = next(iter(probes.values())).ledger
    denied = await ledger.audited(denied=True)
    assert denied == {("hidden.secret", arguments_digest({})): len(probes)}, (
        "only the tool of a real server is audited, as denied"
    )


async def test_listings_pass_over_a_server_that_cannot_start(probes: dict[str, Probe]) -> None:
    """`api` has no package to run: its resources and prompts are simply absent."""
    for probe in probes.values():
        for method, key in [
            ("resources/list", "resources"),
            ("resources/templates/list", "resourceTemplates"),
            ("prompts/list", "prompts"),
        ]:
            (message,) = checked(await probe.send({"jsonrpc": "2.0", "id": 3, "method": method}))
            assert message["result"][key] == [], message


async def test_calls_with_bad_arguments_are_audited(probes: dict[str, Probe]) -> None:
    for probe in probes.values():
        for number, arguments in enumerate([{"q": "fine"}, {"q": 5}, {}, {"q": "x" * 50}]):
            (message,) = checked(await probe.send(call("api.search", arguments, number)))
            assert message["result"]["isError"] is True, message
    assert probes[LEGACY].ledger.reached.total() == 8


async def test_a_revoked_grant_makes_the_next_call_an_unknown_tool(
    probes: dict[str, Probe],
) -> None:
    for probe in probes.values():
        (before,) = checked(await probe.send(call("api.list")))
        assert "result" in before, before
    ledger = probes[LEGACY].ledger
    team = ledger.services.settings.default_team
    revoked = await probes[LEGACY].http.delete(f"/api/v1/grants/{team}/api")
    assert revoked.status_code == 204, revoked.text
    ledger.visible = ()
    for probe in probes.values():
        (after,) = checked(await probe.send(call("api.list", id_=2)))
        assert after["error"] == {"code": types.INVALID_PARAMS, "message": "Unknown tool: api.list"}


async def test_bodies_up_to_the_limit_are_taken(probes: dict[str, Probe]) -> None:
    for probe in probes.values():
        limit = probe.ledger.services.settings.max_request_bytes
        big = {"q": "x" * (limit - 1024)}
        response = await probe.send(call("api.search", big))
        assert response.status_code == 200, f"{response.status_code}: {response.text[:200]}"
        (message,) = checked(response)
        assert "is too long" in message["result"]["content"][0]["text"], message


async def test_bodies_over_the_limit_get_413_and_the_endpoint_goes_on(
    probes: dict[str, Probe],
) -> None:
    """Whether the body announces its length or streams in without one."""
    for probe in probes.values():
        limit = probe.ledger.services.settings.max_request_bytes
        message = probe.envelope(call("api.search", {"q": "x" * limit}))
        body = json.dumps(message).encode()
        announced = await probe.post(body, probe.headers(message), message)
        assert announced.status_code == 413, announced.text
        assert str(limit) in announced.json()["error"]

        async def chunks(body: bytes = body) -> AsyncIterator[bytes]:
            for start in range(0, len(body), 65_536):
                yield body[start : start + 65_536]

        streamed = await probe.http.post("/mcp", content=chunks(), headers=probe.headers(message))
        assert streamed.status_code == 413, streamed.text
    assert not await probes[LEGACY].ledger.audited(), "an oversized call ran"
