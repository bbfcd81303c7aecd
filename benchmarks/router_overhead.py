"""What `/v1/chat/completions` adds to a model call, against calling the same upstream directly.

- `direct`: a fast fake OpenAI server (a Starlette app under uvicorn on 127.0.0.1, in a child
  process) answering every chat completion at once with a fixed answer and usage.
- `switchboard`: `switchboard serve` in a child process (SQLite in a temporary data dir) whose
  model file routes the alias `fast` to that same fake; calls carry a personal access token
  with the `api` scope and take the whole path: authentication, the team lookup and limits, the
  router, the upstream call over the shared HTTP client, the usage record, and a durable,
  hash-chained audit record written before the answer.

Both are called from this process by one `httpx.AsyncClient` each. At concurrency N, N workers
each keep one request in flight. Variants take turns, their order swapped every round, each turn
starting with warm-up calls. Latencies are client time per call, percentiles over every call of
every round. After the run, the usage records and audit records are counted against the calls.

Target (from the issue): added p50 at most 2 ms at concurrency 1.

Usage: python benchmarks/router_overhead.py [--quick] [--profile]
`--quick` makes few calls and never fails (a smoke test). `--profile` instead profiles the
Switchboard process with cProfile at concurrency 1 and prints where its time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import httpx
from harness import PROFILED_SWITCHBOARD, child, free_port, print_profile, profiled
from sqlalchemy import func
from sqlmodel import select

from agents.models.tables import ModelUsage
from registry.models import Role
from registry.teams import add_member, ensure_team
from switchboard.audit.models import AuditRecord
from switchboard.identity.accounts import create_user
from switchboard.identity.pats import create_pat
from switchboard.services import Services, open_services
from switchboard.settings import Settings

CONCURRENCY = (1, 16)
VARIANTS = ("direct", "switchboard")
TARGET_ADDED_P50_MS = 2.0
REQUEST = {"model": "fast", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8}
FAKE_UPSTREAM = """
import sys, time, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def chat(request):
    body = await request.json()
    return JSONResponse({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
    })

async def ready(request):
    return JSONResponse({"ok": True})

app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                        Route("/ready", ready)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""
HOT_PATHS = (
    ("agents/models/openai_api.py", "chat_completions", "the whole endpoint"),
    ("agents/models/openai_api.py", "caller", "  the caller (token, standing and teams)"),
    ("agents/models/router.py", "complete", "  the router"),
    ("agents/models/router.py", "_complete_once", "    of which the upstream call"),
    ("agents/models/ledger.py", "record", "    of which the usage and audit commit"),
)


async def api_token(services: Services) -> str:
    async with services.transaction() as session:
        team = await ensure_team(session, services.settings.default_team)
        user = await create_user(session, "bench", role=Role.user, password=None)
        await add_member(session, team, user)
        token, _ = await create_pat(
            session,
            user,
            name="bench",
            scopes=["api"],
            allowed={"api"},
            expires_in=timedelta(days=1),
        )
    return token


async def load(client: httpx.AsyncClient, url: str, concurrency: int, calls: int) -> list[float]:
    latencies: list[float] = []

    async def worker() -> None:
        for _ in range(calls // concurrency):
            start = time.perf_counter()
            response = await client.post(url, json=REQUEST)
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.text}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000


async def counts(settings: Settings) -> tuple[int, int]:
    async with open_services(settings, upgrade=False) as services, services.sessions() as session:
        usage = (await session.exec(select(func.count()).select_from(ModelUsage))).one()
        audited = (
            await session.exec(
                select(func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.action == "model.completion")
            )
        ).one()
    return int(usage), int(audited)


async def profile(
    process: asyncio.subprocess.Process, client: httpx.AsyncClient, url: str, calls: int, out: Path
) -> None:
    """cProfile on in the Switchboard process for `calls` calls at concurrency 1."""
    await load(client, url, 1, 20)
    async with profiled(process, out):
        await load(client, url, 1, calls)
    print_profile(out, calls, 1, HOT_PATHS, top=20)


async def main(quick: bool, profiling: bool) -> int:
    rounds = 2 if quick else 10
    calls = {1: 30 if quick else 300, 16: 64 if quick else 1600}
    made = 0
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        upstream_port = free_port()
        upstream = f"http://127.0.0.1:{upstream_port}/v1"
        models_file = tmp / "models.yaml"
        models_file.write_text(
            "aliases:\n  fast:\n    deployments:\n      - provider: openai-compatible\n"
            f"        model: bench\n        base_url: {upstream}\n"
        )
        settings = Settings(data_dir=tmp / "data", port=free_port(), log_level="warning")
        async with open_services(settings) as services:
            token = await api_token(services)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env.update(
            SWITCHBOARD_DATA_DIR=str(settings.data_dir),
            SWITCHBOARD_PORT=str(settings.port),
            SWITCHBOARD_LOG_LEVEL="warning",
            SWITCHBOARD_MODELS_FILE=str(models_file),
        )
        base = settings.effective_public_url
        urls = {
            "direct": f"{upstream}/chat/completions",
            "switchboard": f"{base}/v1/chat/completions",
        }
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(
                child(
                    [sys.executable, "-c", FAKE_UPSTREAM, str(upstream_port)],
                    dict(os.environ),
                    f"http://127.0.0.1:{upstream_port}/ready",
                    tmp / "upstream.log",
                )
            )
            serve = [sys.executable, "-m", "switchboard.cli.main", "serve"]
            if profiling:
                serve = [sys.executable, "-c", PROFILED_SWITCHBOARD, str(tmp / "profile")]
            process = await stack.enter_async_context(
                child(
                    serve,
                    env,
                    f"{base}/healthz",
                    tmp / "switchboard.log",
                )
            )
            clients = {
                "direct": await stack.enter_async_context(
                    httpx.AsyncClient(timeout=30, limits=limits)
                ),
                "switchboard": await stack.enter_async_context(
                    httpx.AsyncClient(
                        timeout=30, limits=limits, headers={"Authorization": f"Bearer {token}"}
                    )
                ),
            }
            if profiling:
                await profile(
                    process,
                    clients["switchboard"],
                    urls["switchboard"],
                    200 if quick else 1000,
                    tmp / "profile",
                )
                return 0
            results: dict[int, dict[str, list[float]]] = {}
            for concurrency in CONCURRENCY:
                series: dict[str, list[float]] = {name: [] for name in VARIANTS}
                for round_ in range(rounds):
                    for name in VARIANTS if round_ % 2 == 0 else VARIANTS[::-1]:
                        warm = await load(clients[name], urls[name], concurrency, 2 * concurrency)
                        measured = await load(
                            clients[name], urls[name], concurrency, calls[concurrency]
                        )
                        series[name] += measured
                        if name == "switchboard":
                            made += len(warm) + len(measured)
                results[concurrency] = series
        usage, audited = await counts(settings)
    print(f"/v1/chat/completions against the same fake upstream; {rounds} rounds, alternating")
    print(f"{'conc':>4} {'variant':<12} {'calls':>6} {'p50 ms':>7} {'p99 ms':>7}")
    for concurrency, series in results.items():
        for name in VARIANTS:
            s = series[name]
            print(
                f"{concurrency:>4} {name:<12} {len(s):>6} "
                f"{percentile(s, 50):>7.2f} {percentile(s, 99):>7.2f}"
            )
    print("switchboard against direct")
    print(f"{'conc':>4} {'p50 ratio':>10} {'added p50':>11} {'added p99':>11}")
    for concurrency, series in results.items():
        direct, routed = series["direct"], series["switchboard"]
        print(
            f"{concurrency:>4} {percentile(routed, 50) / percentile(direct, 50):>9.2f}x "
            f"{percentile(routed, 50) - percentile(direct, 50):>8.2f} ms "
            f"{percentile(routed, 99) - percentile(direct, 99):>8.2f} ms"
        )
    print(f"calls through switchboard: {made}; usage records: {usage}; audit records: {audited}")
    low = results[min(CONCURRENCY)]
    added = percentile(low["switchboard"], 50) - percentile(low["direct"], 50)
    passed = added <= TARGET_ADDED_P50_MS and usage == made and audited == made
    print(f"target: added p50 at concurrency 1 <= {TARGET_ADDED_P50_MS} ms, every call recorded")
    print("PASS" if passed else "FAIL")
    return 0 if passed or quick else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few calls; a smoke test")
    parser.add_argument(
        "--profile", action="store_true", help="profile the switchboard process instead"
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.quick, args.profile)))
