"""How computing one caller's visible tool list scales with the catalogue.

Prints, measured side by side in one process on SQLite:
- the cost at 100, 1,000 and 10,000 registered tools as ratios to the 100-tool case (target:
  no faster than linear growth, i.e. ratio <= tools / 100);
- the 10,000-tool case as a ratio to serialising those 10,000 definitions with `json.dumps`
  (target: at most 3x).

The measured call is what a request does: check the catalogue revision, read the caller's
grants, and filter the cached index. Rebuilding the index after a change is shown apart.

Usage: python benchmarks/registry_scale.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from registry.models import (
    Grant,
    Membership,
    ReviewStatus,
    Server,
    ServerKind,
    ServerVersion,
    Team,
    Tool,
    User,
)
from registry.visibility import load_index
from switchboard.services import Services, open_services
from switchboard.settings import Settings

TOOLS_PER_SERVER = 20


def tool_definition(server: int, index: int) -> dict[str, Any]:
    return {
        "name": f"operation_{index}",
        "title": f"Operation {index} of service {server}",
        "description": "Looks up records in the service and returns them with their metadata; "
        "supports filtering by owner, state and creation date, and paginates results.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "owner": {"type": "string", "description": "user name of the owner"},
                "state": {"type": "string", "enum": ["open", "closed", "all"]},
                "since": {"type": "string", "format": "date-time"},
                "page": {"type": "integer", "minimum": 1, "default": 1},
            },
            "required": ["owner"],
            "additionalProperties": False,
        },
        "annotations": {"readOnlyHint": index % 3 != 0, "openWorldHint": True},
    }


async def populate(services: Services, tools: int) -> None:
    """`tools` live tools in servers of 20; the caller's team holds a grant on every server."""
    servers = tools // TOOLS_PER_SERVER
    async with services.transaction() as session:
        conn = await session.connection()
        await conn.execute(insert(Team).values(id=100, name="bench"))
        await conn.execute(insert(User).values(id=100, username="caller"))
        await conn.execute(insert(Membership).values(team_id=100, user_id=100))
        await conn.execute(
            insert(Server),
            [
                {
                    "id": s,
                    "name": f"com.example/s{s}",
                    "slug": f"s{s}",
                    "kind": ServerKind.openapi,
                    "owner_team_id": 100,
                    "live_version_id": s,
                }
                for s in range(1, servers + 1)
            ],
        )
        await conn.execute(
            insert(ServerVersion),
            [
                {
                    "id": s,
                    "server_id": s,
                    "version": "1.0.0",
                    "description": "",
                    "document": {},
                    "policy": {},
                    "status": ReviewStatus.approved,
                    "published_by_id": 100,
                }
                for s in range(1, servers + 1)
            ],
        )
        await conn.execute(
            insert(Tool),
            [
                {
                    "version_id": s,
                    "name": f"operation_{i}",
                    "definition": tool_definition(s, i),
                    "scopes": ["read"] if i % 2 else [],
                }
                for s in range(1, servers + 1)
                for i in range(TOOLS_PER_SERVER)
            ],
        )
        await conn.execute(
            insert(Grant),
            [
                {
                    "team_id": 100,
                    "server_id": s,
                    "scopes": ["*"] if s % 2 else ["read"],
                    "granted_by_id": 100,
                }
                for s in range(1, servers + 1)
            ],
        )


async def timed(call: Callable[[], Awaitable[object]], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def measure(tools: int, repeats: int, workdir: Path) -> dict[str, Any]:
    settings = Settings(data_dir=workdir / f"n{tools}", database_url=None)
    async with open_services(settings) as services:
        await populate(services, tools)
        async with services.sessions() as session:
            visible = await services.catalog.visible_tools(session, "caller")
            assert len(visible) == tools, (len(visible), tools)

            async def request() -> object:
                return await services.catalog.visible_tools(session, "caller")

            async def rebuild() -> object:
                return await load_index(session)

            wires = [t.wire for t in visible]
            per_request = await timed(request, repeats)
            rebuild_time = await timed(rebuild, max(3, repeats // 10))
            start = time.perf_counter()
            for _ in range(repeats):
                json.dumps(wires)
            dumps = (time.perf_counter() - start) / repeats
        return {"tools": tools, "request": per_request, "rebuild": rebuild_time, "dumps": dumps}


async def main(quick: bool) -> int:
    sizes = (100, 1_000, 10_000)
    repeats = 5 if quick else 50
    with tempfile.TemporaryDirectory() as tmp:
        results = [await measure(n, repeats, Path(tmp)) for n in sizes]
    base = results[0]["request"]
    print(f"visible tool list for one caller (SQLite, median of {repeats} runs)")
    print(f"{'tools':>7} {'vs 100 tools':>13} {'linear bound':>13} {'index rebuild vs 100':>21}")
    ok = True
    for r in results:
        ratio = r["request"] / base
        bound = r["tools"] / sizes[0]
        ok &= ratio <= bound
        print(
            f"{r['tools']:>7} {ratio:>12.2f}x {bound:>12.0f}x "
            f"{r['rebuild'] / results[0]['rebuild']:>20.2f}x"
        )
    largest = results[-1]
    vs_json = largest["request"] / largest["dumps"]
    ok &= vs_json <= 3
    print(
        f"10,000 tools: visible list = {vs_json:.2f}x json.dumps of the same 10,000 definitions "
        "(target <= 3x)"
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok or quick else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, never fails (smoke)")
    sys.exit(asyncio.run(main(parser.parse_args().quick)))
