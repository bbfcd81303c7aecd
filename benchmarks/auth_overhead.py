"""What authenticating and authorising one `/mcp` request costs, against serving it without.

Switchboard runs in this process on real uvicorn on 127.0.0.1 (SQLite in a temporary data
dir) with 3 published, approved servers of 4 tools each, all granted (`*`) to the caller's
team. The request is `tools/list`, sent by httpx over one HTTP/1.1 keep-alive pool, in two
shapes: on an established stateful session (`Mcp-Session-Id`), and as a stateless
2026-07-28 request (no session). Every variant gets the same bytes, `Authorization` header
included, through the same uvicorn, Starlette app, `TrustedHostMiddleware`, `/mcp` route and
SDK session manager (a `Toolhost` built by the same constructor); only the step in front of
the session manager and the `tools/list` handler differ (`app.state.toolhost` is swapped
between rounds):

- `open`: no auth. A fixed caller, computed once, is put in the ASGI scope as `RequireBearer`
  leaves it (the SDK binds sessions to it as usual), and `tools/list` answers with the
  catalogue: the cached index, after the same revision check; no grants read.
- `grants`: the same fixed caller, with Switchboard's own `tools/list`: the caller's grants are
  read and intersected with the token's scopes. Authorisation without authentication, shown
  to split the cost.
- `jwt`, `pat`: Switchboard as deployed. `RequireBearer` verifies the bearer token (an ES256
  access token and a look-up of the user it names, or a personal access token looked up by
  its hash with its user) and checks its scopes; `tools/list` reads the grants and intersects
  them with the token's scopes (the effective scopes).

All four answer with the same 12 tools (checked before measuring), so `jwt/open` and
`pat/open` are the cost of authentication plus authorisation as a ratio to serving the same
request without them; `jwt/grants` and `pat/grants` are authentication alone. Variants run in
turn, their order rotating each round so drift on a busy machine hits them all alike; ratios
are of median latencies over every request of every round (client time, the same for all
variants, included), with time per request at full load (1/throughput) beside them. Then the
database work per request is counted (SQL statements, connection check-outs, commits).

Target (from the issue): `jwt/open` and `pat/open` at most 1.1x at concurrency 16, in both
request shapes.

Usage: python benchmarks/auth_overhead.py [--quick] [--profile]
`--profile` instead runs each variant under cProfile and prints where the authenticated
variants spend more time than `open` (own time per request, client and server together).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import uvicorn
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.context import ServerRequestContext
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from registry import grants, publishing, review
from registry.lookup import get_server
from registry.models import Role
from registry.policy import Policy
from registry.teams import add_member, ensure_team
from registry.tooldefs import Tool, ToolAnnotations, ToolDefinition
from switchboard.app import create_app
from switchboard.identity.accounts import create_user
from switchboard.identity.bearer import authenticate_bearer
from switchboard.identity.pats import create_pat
from switchboard.identity.principal import Principal
from switchboard.services import Services
from switchboard.settings import Settings
from toolhost.authentication import GRANTED, PRINCIPAL, RequireBearer, _sdk_user
from toolhost.endpoint import Toolhost
from toolhost.origins import CheckOrigin

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("alpha", "bravo", "charlie")
TOOLS_PER_SERVER = 4
CALLER = "bench"
HANDSHAKE = "2025-11-25"
MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"
VARIANTS = ("open", "grants", "jwt", "pat")
AUTHENTICATED = ("jwt", "pat")
SHAPES = ("session", "stateless")
CONCURRENCY = (1, 16)
TARGET = 1.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tool(server: str, index: int) -> ToolDefinition:
    return ToolDefinition(
        tool=Tool(
            name=f"op_{index}",
            description=f"Operation {index} of {server}: looks records up and returns them.",
            input_schema={
                "type": "object",
                "properties": {
                    "owner": {"type": "string", "description": "user name of the owner"},
                    "state": {"type": "string", "enum": ["open", "closed", "all"]},
                    "page": {"type": "integer", "minimum": 1, "default": 1},
                },
                "required": ["owner"],
            },
            annotations=ToolAnnotations(read_only_hint=index % 2 == 0),
        ),
        scopes=["read"] if index % 2 else [],
    )


async def populate(services: Services) -> tuple[str, str]:
    """The catalogue, the caller (granted every tool) and two tokens of theirs: (JWT, PAT)."""
    async with services.transaction() as session:
        team = await ensure_team(session, "bench")
        user = await create_user(session, CALLER, role=Role.developer, password=None)
        await add_member(session, team, user)
        for name in SERVERS:
            await publishing.publish_openapi(
                session,
                name=f"com.example/{name}",
                version="1.0.0",
                description=f"The {name} API",
                document={"openapi": "3.1.0"},
                policy=Policy(egress=["api.example.com"]),
                tools=[tool(name, i) for i in range(TOOLS_PER_SERVER)],
                team=team,
                actor=user,
            )
            await review.approve(session, name, actor=user)
            await grants.grant(session, team, await get_server(session, name), ["*"], actor=user)
        pat, _ = await create_pat(
            session,
            user,
            name="bench",
            scopes=["mcp"],
            allowed={"mcp"},
            expires_in=timedelta(days=1),
        )
    jwt, _ = await services.tokens.issue(
        subject=CALLER, client_id="bench-client", scopes=["mcp"], audience=services.settings.mcp_url
    )
    return jwt, pat


class FixedCaller:
    """In place of `RequireBearer`: leaves a precomputed caller in the scope, as it would, and
    with `services` (the `grants` variant) also the caller's grants, read as it reads them."""

    def __init__(
        self,
        app: ASGIApp,
        principal: Principal,
        user: AuthenticatedUser,
        services: Services | None,
    ) -> None:
        self.app = app
        self.principal = principal
        self.user = user
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[PRINCIPAL] = self.principal
            scope["user"] = self.user
            if self.services is not None:
                async with self.services.sessions() as session:
                    scope[GRANTED] = await self.services.catalog.visible_tools(
                        session, self.principal.username
                    )
        await self.app(scope, receive, send)


async def list_catalogue(
    ctx: ServerRequestContext[Services], _params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    """`tools/list` with no caller to authorise: every live tool, in the order grants give."""
    services = ctx.lifespan_context
    async with services.sessions() as session:
        index = await services.catalog.index(session)
    tools = [t for server_id in sorted(index.by_server) for t in index.by_server[server_id]]
    return types.ListToolsResult(tools=[types.Tool.model_validate(t.wire) for t in tools])


def without_authentication(
    app: Starlette, principal: Principal, token: str, *, read_grants: bool
) -> Toolhost:
    """A `Toolhost` built as the app builds it, with `RequireBearer` (after the `Host` and
    `Origin` check) swapped for a fixed caller and, unless `read_grants`, `tools/list` swapped
    for the plain catalogue."""
    services: Services = app.state.services
    host = Toolhost(services, app.state.telemetry)
    checked = host.app
    if not isinstance(checked, CheckOrigin) or not isinstance(checked.app, RequireBearer):
        raise TypeError(
            f"the toolhost no longer starts with CheckOrigin, RequireBearer: {checked!r}"
        )
    if not read_grants:
        host.manager.app.add_request_handler(
            "tools/list", types.PaginatedRequestParams, list_catalogue
        )
    user = _sdk_user(principal, token, services.settings.effective_public_url)
    granting = services if read_grants else None
    checked.app = FixedCaller(checked.app.app, principal, user, granting)
    return host


def tool_names(response: httpx.Response) -> list[str]:
    """The tool names of a `tools/list` answer, sent as JSON or as an SSE event (after the
    priming event, whose data is empty, of a resumable stream)."""
    if response.headers["content-type"].startswith("text/event-stream"):
        lines = response.text.splitlines()
        data = [line.removeprefix("data:") for line in lines if line.startswith("data:")]
        message = json.loads(next(d for d in data if d.strip()))
    else:
        message = response.json()
    return [t["name"] for t in message["result"]["tools"]]


@dataclass
class Bench:
    app: Starlette
    http: httpx.AsyncClient
    hosts: dict[str, Toolhost]
    tokens: dict[str, str]
    sessions: dict[str, list[str]] = field(default_factory=dict)
    request_id: int = 0

    def use(self, variant: str) -> None:
        self.app.state.toolhost = self.hosts[variant]

    async def post(
        self, variant: str, body: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Response:
        """The same request whatever the variant: the bearer token is always sent."""
        token = self.tokens["pat" if variant == "pat" else "jwt"]
        headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT, **headers}
        response = await self.http.post("/mcp", json=body, headers=headers)
        response.raise_for_status()
        return response

    async def open_session(self, variant: str) -> str:
        hello = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": HANDSHAKE,
                "capabilities": {},
                "clientInfo": {"name": "auth-overhead", "version": "1"},
            },
        }
        session = (await self.post(variant, hello, {})).headers["mcp-session-id"]
        ready = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await self.post(
            variant, ready, {"Mcp-Session-Id": session, "MCP-Protocol-Version": HANDSHAKE}
        )
        return session

    async def tools_list(self, variant: str, shape: str, worker: int) -> list[str]:
        self.request_id += 1
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": self.request_id, "method": "tools/list"}
        if shape == "session":
            headers = {
                "Mcp-Session-Id": self.sessions[variant][worker],
                "MCP-Protocol-Version": HANDSHAKE,
            }
        else:
            body["params"] = {
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": MODERN,
                    "io.modelcontextprotocol/clientCapabilities": {},
                }
            }
            headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"}
        return tool_names(await self.post(variant, body, headers))


async def prepare(app: Starlette, http: httpx.AsyncClient, stack: AsyncExitStack) -> Bench:
    services: Services = app.state.services
    jwt, pat = await populate(services)
    caller = await authenticate_bearer(
        services.reads, services.tokens, jwt, audiences=(services.settings.mcp_url,)
    )
    principal = caller.principal
    deployed: Toolhost = app.state.toolhost
    hosts = {
        "open": without_authentication(app, principal, jwt, read_grants=False),
        "grants": without_authentication(app, principal, jwt, read_grants=True),
        "jwt": deployed,
        "pat": deployed,
    }
    for variant in ("open", "grants"):
        await stack.enter_async_context(hosts[variant].running())
    bench = Bench(app, http, hosts, {"jwt": jwt, "pat": pat})
    for variant in VARIANTS:
        bench.use(variant)
        bench.sessions[variant] = [
            await bench.open_session(variant) for _ in range(max(CONCURRENCY))
        ]
    bench.use("jwt")
    forged = {"Authorization": "Bearer sbp_forged", "Accept": ACCEPT}
    refused = await http.post(
        "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=forged
    )
    if refused.status_code != 401:
        raise RuntimeError(f"a forged token got {refused.status_code}, not 401")
    answers = set()
    for shape in SHAPES:
        for variant in VARIANTS:
            bench.use(variant)
            answers.add(tuple(await bench.tools_list(variant, shape, 0)))
    if len(answers) != 1 or len(next(iter(answers))) != len(SERVERS) * TOOLS_PER_SERVER:
        raise RuntimeError(f"the variants do not give the same 12 tools: {answers}")
    return bench


async def load(
    call: Callable[[int], Awaitable[object]], concurrency: int, requests: int
) -> list[float]:
    """Latencies of `requests` calls made by `concurrency` workers, each one call at a time."""
    latencies: list[float] = []

    async def worker(index: int) -> None:
        for _ in range(requests // concurrency):
            start = time.perf_counter()
            await call(index)
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies


@dataclass
class Result:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    per_request: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VARIANTS})

    def latency(self, variant: str) -> float:
        return statistics.median(self.latencies[variant])

    def ratio(self, variant: str, base: str) -> tuple[float, float]:
        """Median latency and median time per request at full load, as ratios to `base`."""
        return (
            self.latency(variant) / self.latency(base),
            statistics.median(self.per_request[variant])
            / statistics.median(self.per_request[base]),
        )


def caller(bench: Bench, variant: str, shape: str) -> Callable[[int], Awaitable[object]]:
    async def call(worker: int) -> object:
        return await bench.tools_list(variant, shape, worker)

    return call


async def measure(bench: Bench, shape: str, concurrency: int, rounds: int, requests: int) -> Result:
    result = Result()
    for round_ in range(rounds):
        shift = round_ % len(VARIANTS)
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:
            bench.use(variant)
            call = caller(bench, variant, shape)
            await load(call, concurrency, 2 * concurrency)  # every connection warm
            start = time.perf_counter()
            latencies = await load(call, concurrency, requests)
            result.per_request[variant].append((time.perf_counter() - start) / len(latencies))
            result.latencies[variant].extend(latencies)
    return result


@dataclass
class DbWork:
    statements: int = 0
    checkouts: int = 0
    commits: int = 0


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[DbWork]:
    """SQL statements, connection check-outs and commits while the block runs."""
    work = DbWork()
    sync = engine.sync_engine

    def statement(*_: object) -> None:
        work.statements += 1

    def checkout(*_: object) -> None:
        work.checkouts += 1

    def commit(*_: object) -> None:
        work.commits += 1

    hooks: list[tuple[Any, str, Callable[..., None]]] = [
        (sync, "before_cursor_execute", statement),
        (sync, "commit", commit),
        (sync.pool, "checkout", checkout),
    ]
    for target, name, hook in hooks:
        event.listen(target, name, hook)
    try:
        yield work
    finally:
        for target, name, hook in hooks:
            event.remove(target, name, hook)


async def db_work(bench: Bench, requests: int) -> dict[str, DbWork]:
    services: Services = bench.app.state.services
    work = {}
    for variant in VARIANTS:
        bench.use(variant)
        call = caller(bench, variant, "session")
        await load(call, 1, 4)
        with counting(services.engine) as counted:
            await load(call, 1, requests)
        work[variant] = counted
    return work


async def report(bench: Bench, rounds: int, requests: dict[int, int]) -> bool:
    count = len(SERVERS) * TOOLS_PER_SERVER
    print(
        f"tools/list of {count} tools on /mcp: uvicorn on 127.0.0.1, SQLite, httpx keep-alive "
        f"pool; {rounds} rounds, variants alternating"
    )
    print("median latency per request")
    print(f"{'request':<10} {'conc':>4}" + "".join(f"{v:>11}" for v in VARIANTS))
    results: dict[tuple[str, int], Result] = {}
    for shape in SHAPES:
        for concurrency in CONCURRENCY:
            result = await measure(bench, shape, concurrency, rounds, requests[concurrency])
            results[shape, concurrency] = result
            print(
                f"{shape:<10} {concurrency:>4}"
                + "".join(f"{result.latency(v) * 1000:>8.2f} ms" for v in VARIANTS)
            )
    print("ratios of median latency (of time per request at full load, 1/throughput)")
    pairs = [(v, "open") for v in AUTHENTICATED] + [(v, "grants") for v in AUTHENTICATED]
    print(f"{'request':<10} {'conc':>4}" + "".join(f"{f'{v}/{b}':>17}" for v, b in pairs))
    ok = True
    for (shape, concurrency), result in results.items():
        cells = []
        for variant, base in pairs:
            latency, full_load = result.ratio(variant, base)
            cells.append(f"{latency:>9.2f}x ({full_load:.2f}x)")
            if base == "open" and concurrency == max(CONCURRENCY):
                ok &= latency <= TARGET
        print(f"{shape:<10} {concurrency:>4}" + "".join(cells))
    n = 20
    work = await db_work(bench, n)
    print("database work per tools/list (stateful session, concurrency 1)")
    for variant in VARIANTS:
        counted = work[variant]
        print(
            f"  {variant:<7} {counted.statements / n:4.1f} SQL statements, "
            f"{counted.checkouts / n:4.1f} connection check-outs, "
            f"{counted.commits / n:4.1f} commits"
        )
    print(
        f"target: jwt/open and pat/open <= {TARGET}x at concurrency {max(CONCURRENCY)} "
        "(authentication + authorisation against none)"
    )
    print("PASS" if ok else "FAIL")
    return ok


AREAS = (
    ("database", ("sqlalchemy", "aiosqlite", "sqlmodel", "greenlet", "SimpleQueue", "sqlite3")),
    ("token crypto", ("joserfc", "cryptography", "hashlib")),
    ("Switchboard", ("/registry/", "/switchboard/", "/toolhost/")),
    ("waiting (epoll)", ("select.epoll",)),
    ("loop, sockets, HTTP", ("asyncio", "selectors", "_socket", "anyio", "uvicorn", "h11", "http")),
    ("SDK, pydantic", ("/mcp/", "mcp_types", "pydantic")),
)


def area(path: str, name: str) -> str:
    where = f"{path} {name}"
    return next((label for label, marks in AREAS if any(m in where for m in marks)), "other")


async def profile(bench: Bench, requests: int) -> None:
    """Own time per request that the authenticated variants add to `open`: by area (from the
    module or object each function belongs to) and the largest functions. Client and server
    share the process, so both are in; cProfile's overhead inflates everything alike."""
    own: dict[str, dict[tuple[str, int, str], float]] = {}
    for variant in ("open", *AUTHENTICATED):
        bench.use(variant)
        call = caller(bench, variant, "session")
        await load(call, 16, 64)
        profiler = cProfile.Profile()
        profiler.enable()
        await load(call, 16, requests)
        profiler.disable()
        stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        own[variant] = {where: row[2] / requests for where, row in stats.items()}
    print(f"cProfile, {requests} tools/list on stateful sessions at concurrency 16 per variant")
    for variant in AUTHENTICATED:
        extra = {
            where: own[variant].get(where, 0.0) - own["open"].get(where, 0.0)
            for where in own[variant].keys() | own["open"].keys()
        }
        base = sum(own["open"].values())
        total = sum(own[variant].values())
        print(
            f"{variant}: {total * 1e6:.0f} us own time per request against {base * 1e6:.0f} us "
            f"for open ({total / base:.2f}x); the difference by area:"
        )
        areas: dict[str, float] = {}
        for (path, _, name), seconds in extra.items():
            label = area(path, name)
            areas[label] = areas.get(label, 0.0) + seconds
        for label, seconds in sorted(areas.items(), key=lambda kv: -kv[1]):
            print(f"  {seconds * 1e6:7.0f} us  {label}")
        print("  largest functions:")
        for (path, line, name), seconds in sorted(extra.items(), key=lambda kv: -kv[1])[:12]:
            short = path.split("site-packages/")[-1].removeprefix(f"{ROOT}/")
            print(f"  {seconds * 1e6:7.0f} us  {short}:{line}({name})")


async def serve(settings: Settings, body: Callable[[Starlette], Awaitable[bool]]) -> bool:
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    try:
        return await body(app)
    finally:
        server.should_exit = True
        await task


async def main(quick: bool, profiling: bool) -> int:
    rounds = 2 if quick else 6
    requests = {1: 16 if quick else 80, 16: 64 if quick else 480}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", database_url=None, port=free_port())

        async def body(app: Starlette) -> bool:
            limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
            async with (
                AsyncExitStack() as stack,
                httpx.AsyncClient(
                    base_url=settings.effective_public_url, limits=limits, timeout=60
                ) as http,
            ):
                bench = await prepare(app, http, stack)
                try:
                    if profiling:
                        await profile(bench, 160 if quick else 800)
                        return True
                    return await report(bench, rounds, requests)
                finally:
                    bench.use("jwt")  # the deployed toolhost, which the lifespan stops

        ok = await serve(settings, body)
    return 0 if ok or quick or profiling else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few requests, never fails (smoke)")
    parser.add_argument("--profile", action="store_true", help="cProfile the variants instead")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.quick, args.profile)))
