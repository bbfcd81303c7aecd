"""What Switchboard adds to a tool call, against calling the same tool server directly.

One tool server, the calculator example, is called two ways from this process, each over
streamable HTTP by one `mcp` SDK `Client`:

- `direct`: the calculator served over streamable HTTP by uvicorn on 127.0.0.1, in a child
  process (`create_server().streamable_http_app()`), no auth.
- `switchboard`: `switchboard serve` in a child process (uvicorn on 127.0.0.1, SQLite in a
  temporary data dir), with the calculator published through the API, discovered in a real
  sandbox, approved and granted; calls go to `/mcp` with a personal access token and take the
  whole call path: authentication, authorisation, argument validation, the one sandbox leased
  to the client (the calculator over stdio in its hardened container, its stdin and stdout a
  unix socket, as `SWITCHBOARD_SANDBOX_STDIO=auto` picks on a local engine), output checks,
  and a durable, hash-chained audit record written before the answer. The rate limit is off
  (`SWITCHBOARD_RATE_LIMIT_PER_CALLER=0`); it would refuse a benchmark's burst. No warm spare
  sandbox is kept (`SWITCHBOARD_SANDBOX_POOL_SIZE=0`): the sandbox starts on the first call,
  before measuring, and no spare starts while measuring.

Both servers run in processes of their own, so the client (this process) is the same for both
and shares its CPU with neither; both log at `warning` (no access log). The call is `evaluate`
with a small expression. At concurrency N, N workers each keep one call in flight on the one
client. Variants take turns, their order swapped every round, so drift on a busy machine hits
both alike; each turn starts with warm-up calls. Latencies are client time per call,
percentiles over every call of every round; throughput is calls per second of the measured
turns. CPU time per call is read from /proc for each process taking part (client, server,
the sandbox's processes, dockerd with the sandbox's containerd shim), where visible; on a shared
machine other work in dockerd shows there too, in both variants alike. Every call
made through Switchboard, warm-ups included, is counted; after the run the `tool.call` audit
records are counted against it and the chain is verified against its seal
(`switchboard.audit.verification.verify_sealed`; `switchboard serve` seals as it stops).

Targets (from the issue): added p50 at most 3 ms at concurrency 1; throughput through
Switchboard at least 0.6x direct at concurrency 16; audit records == calls made after 10,000
calls.

Usage: python benchmarks/gateway_overhead.py [--quick] [--profile] [--legacy] [--stdio MODE]
`--stdio attach` runs the sandbox's stdio over Docker's attach stream instead of the socket
`auto` picks here (`SWITCHBOARD_SANDBOX_STDIO`), to measure that fallback.
The client negotiates as the SDK does by default (2026-07-28, stateless: the caller's lease
picks the sandbox); `--legacy` uses the initialize handshake and one stateful session
(`Mcp-Session-Id`; the session's lease picks the sandbox). `--quick` makes few calls and never
fails (a smoke test). `--profile` instead profiles the Switchboard process with cProfile,
switched on by signal for the measured calls only, at concurrency 1 and 16, and prints where
its time goes per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import docker
import httpx
import httpx2
from harness import PROFILED_SWITCHBOARD, ROOT, child, free_port, print_profile, profiled
from mcp import Client
from mcp.client.client import ConnectMode
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import func
from sqlmodel import col, select

from registry.models import Role
from registry.teams import add_member, ensure_team
from sandboxes.ownership import OWNER
from sandboxes.stdio_listener import StdioMode, stdio_mode
from switchboard.audit.models import AuditRecord
from switchboard.audit.verification import verify_sealed
from switchboard.identity.accounts import create_user
from switchboard.identity.pats import create_pat
from switchboard.services import Services, open_services
from switchboard.settings import Settings

CALCULATOR = ROOT / "examples" / "calculator"
TOOL = "evaluate"
ARGUMENTS = {"expression": "6 * 7"}
VARIANTS = ("direct", "switchboard")
CONCURRENCY = (1, 16)
PROCESSES = ("client", "server", "sandbox", "docker")
MAX_ADDED_P50_MS = 3.0
MIN_THROUGHPUT_RATIO = 0.6
AUDITED_CALLS = 10_000
DIRECT_SERVER = """
import sys, uvicorn
from switchboard_example_calculator.server import create_server
uvicorn.run(create_server().streamable_http_app(), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", timeout_keep_alive=20)
"""


def build_wheel(target: Path) -> None:
    """The calculator's wheel, for the sandbox build (Switchboard installs from a wheelhouse)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            str(CALCULATOR),
            "-w",
            str(target),
        ],
        check=True,
        capture_output=True,
    )


def server_env(settings: Settings) -> dict[str, str]:
    """The environment `switchboard serve` reads `settings` from (and no other of ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update(
        SWITCHBOARD_DATA_DIR=str(settings.data_dir),
        SWITCHBOARD_HOST=settings.host,
        SWITCHBOARD_PORT=str(settings.port),
        SWITCHBOARD_WHEELHOUSE=str(settings.wheelhouse),
        SWITCHBOARD_SANDBOX_OWNER=str(settings.sandbox_owner),
        SWITCHBOARD_SANDBOX_POOL_SIZE=str(settings.sandbox_pool_size),
        SWITCHBOARD_RATE_LIMIT_PER_CALLER=str(settings.rate_limit_per_caller),
        SWITCHBOARD_LOG_LEVEL=settings.log_level,
        SWITCHBOARD_SANDBOX_STDIO=settings.sandbox_stdio,
    )
    return env


async def accounts(services: Services) -> tuple[str, str]:
    """An admin's token for the API and a developer's for `/mcp`, both in the default team."""
    tokens = []
    async with services.transaction() as session:
        team = await ensure_team(session, services.settings.default_team)
        for name, role, scope in (("root", Role.admin, "api"), ("bench", Role.developer, "mcp")):
            user = await create_user(session, name, role=role, password=None)
            await add_member(session, team, user)
            token, _ = await create_pat(
                session,
                user,
                name="bench",
                scopes=[scope],
                allowed={scope},
                expires_in=timedelta(days=1),
            )
            tokens.append(token)
    return tokens[0], tokens[1]


async def publish_calculator(admin: httpx.AsyncClient, team: str) -> str:
    """Publish, wait for discovery in a real sandbox, approve and grant; the server's slug."""
    manifest = json.loads((CALCULATOR / "server.json").read_text())
    published = await admin.post("/api/v1/servers", json=manifest)
    published.raise_for_status()
    slug = str(published.json()["slug"])
    version = f"/api/v1/servers/{slug}/versions/{manifest['version']}"
    deadline = time.monotonic() + 900
    while (detail := (await admin.get(version)).json())["status"] == "building":
        if time.monotonic() > deadline:
            raise RuntimeError("the calculator's sandbox image did not build within 15 minutes")
        await asyncio.sleep(0.5)
    if detail["status"] != "pending":
        raise RuntimeError(f"discovery failed: {detail.get('build_log')}")
    approved = await admin.post(version + "/approve", json={"reason": "benchmark"})
    approved.raise_for_status()
    granted = await admin.put(f"/api/v1/grants/{team}/{slug}", json={"scopes": ["*"]})
    granted.raise_for_status()
    return slug


def cpu_seconds(pids: list[int]) -> float:
    """User and system time so far of `pids` (each with all its threads)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def sandbox_processes(owner: str) -> tuple[list[int], list[int]]:
    """The processes of the sandbox Switchboard started for `owner`, and dockerd with that
    container's shim (they relay its stdio); empty where this host cannot see them."""
    client = docker.from_env()
    try:
        containers = client.containers.list(filters={"label": f"{OWNER}={owner}"})
        if len(containers) != 1 or not Path("/proc/1/stat").exists():
            return [], []
        init = int(containers[0].attrs["State"]["Pid"])
    finally:
        client.close()
    sandbox = descendants(init)
    try:
        shim = int(Path(f"/proc/{init}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except FileNotFoundError:
        return sandbox, []
    dockerd = [
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _comm(p) == "dockerd"
    ]
    return sandbox, [shim, *dockerd]


def _comm(proc: Path) -> str:
    try:
        return (proc / "comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


@dataclass
class Target:
    name: str
    client: Client
    tool: str
    pids: dict[str, list[int]] = field(default_factory=dict)
    calls: int = 0

    async def call(self) -> float:
        start = time.perf_counter()
        result = await self.client.call_tool(self.tool, ARGUMENTS)
        elapsed = time.perf_counter() - start
        self.calls += 1
        if result.is_error or result.structured_content is None:
            raise RuntimeError(f"{self.name}: {self.tool} failed: {result.content}")
        if result.structured_content["value"] != 42:
            raise RuntimeError(f"{self.name}: wrong answer {result.structured_content}")
        return elapsed

    def cpu(self) -> dict[str, float]:
        return {process: cpu_seconds(pids) for process, pids in self.pids.items()}


@asynccontextmanager
async def connected(
    name: str, url: str, tool: str, token: str | None, mode: ConnectMode
) -> AsyncIterator[Target]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        listed = {t.name for t in (await client.list_tools()).tools}
        if tool not in listed:
            raise RuntimeError(f"{name}: {tool} is not among the tools listed: {sorted(listed)}")
        yield Target(name, client, tool)


async def load(target: Target, concurrency: int, calls: int) -> tuple[list[float], float]:
    """Latencies of `calls` calls by `concurrency` workers, each one call at a time, and the
    wall time they took."""
    latencies: list[float] = []

    async def worker() -> None:
        for _ in range(calls // concurrency):
            latencies.append(await target.call())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - start


@dataclass
class Series:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PROCESSES, 0.0))

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def cpu_ms(self, process: str) -> float:
        return self.cpu[process] / len(self.latencies) * 1000


async def turn(target: Target, concurrency: int, calls: int, series: Series) -> None:
    await load(target, concurrency, 4 * concurrency)
    before = target.cpu()
    latencies, seconds = await load(target, concurrency, calls)
    after = target.cpu()
    series.latencies += latencies
    series.seconds += seconds
    for process in after:
        series.cpu[process] += after[process] - before[process]


async def measure(
    targets: dict[str, Target], concurrency: int, rounds: int, calls: int
) -> dict[str, Series]:
    series = {name: Series() for name in VARIANTS}
    for round_ in range(rounds):
        for name in VARIANTS if round_ % 2 == 0 else VARIANTS[::-1]:
            await turn(targets[name], concurrency, calls, series[name])
    return series


def report(
    results: dict[int, dict[str, Series]], rounds: int, protocol: str
) -> tuple[float, float]:
    """Print the tables; return the added p50 at concurrency 1 (ms) and the throughput ratio at
    concurrency 16."""
    print(
        f"calculator `{TOOL}` {json.dumps(ARGUMENTS)}, streamable HTTP (protocol {protocol}), "
        f"one client per variant; {rounds} rounds, variants alternating"
    )
    print(
        f"{'conc':>4} {'variant':<12} {'calls':>6} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
        "   CPU ms per call: " + " ".join(f"{p:>7}" for p in (*PROCESSES, "total"))
    )
    for concurrency, series in results.items():
        for name in VARIANTS:
            s = series[name]
            cpu = [s.cpu_ms(p) for p in PROCESSES]
            print(
                f"{concurrency:>4} {name:<12} {len(s.latencies):>6} {s.throughput:>8.0f} "
                f"{s.percentile(50) * 1000:>7.2f} {s.percentile(99) * 1000:>7.2f}"
                + " " * 19
                + " ".join(f"{ms:>7.2f}" for ms in (*cpu, sum(cpu)))
            )
    print("switchboard against direct")
    print(f"{'conc':>4} {'throughput':>11} {'added p50':>11} {'added p99':>11}")
    for concurrency, series in results.items():
        direct, gateway = series["direct"], series["switchboard"]
        print(
            f"{concurrency:>4} {gateway.throughput / direct.throughput:>10.2f}x "
            f"{(gateway.percentile(50) - direct.percentile(50)) * 1000:>8.2f} ms "
            f"{(gateway.percentile(99) - direct.percentile(99)) * 1000:>8.2f} ms"
        )
    low, high = results[min(CONCURRENCY)], results[max(CONCURRENCY)]
    print_budget(max(CONCURRENCY), high)
    added = (low["switchboard"].percentile(50) - low["direct"].percentile(50)) * 1000
    return added, high["switchboard"].throughput / high["direct"].throughput


def print_budget(concurrency: int, series: dict[str, Series]) -> None:
    """What the throughput target leaves the switchboard process, if throughput follows the
    CPU time a call costs (the processes share this machine's CPUs): the part of the target's
    CPU per call that the client, the sandbox and Docker did not use."""
    direct, gateway = series["direct"], series["switchboard"]
    direct_total = sum(direct.cpu_ms(p) for p in PROCESSES)
    if not direct_total or not gateway.cpu_ms("server"):
        return
    allowed = direct_total / MIN_THROUGHPUT_RATIO
    others = sum(gateway.cpu_ms(p) for p in PROCESSES if p != "server")
    print(
        f"CPU budget at concurrency {concurrency}: {MIN_THROUGHPUT_RATIO}x direct allows "
        f"{allowed:.2f} ms per call; client, sandbox and docker used {others:.2f} ms, leaving "
        f"{allowed - others:.2f} ms for the switchboard process, which used "
        f"{gateway.cpu_ms('server'):.2f} ms (the direct server, the SDK's request path and the "
        f"tool, used {direct.cpu_ms('server'):.2f} ms)"
    )


async def audit_check(settings: Settings, calls: int) -> bool:
    """Count `tool.call` records against `calls` and verify the chain; print both."""
    async with open_services(settings, upgrade=False) as services:
        async with services.sessions() as session:
            counts = dict(
                (
                    await session.exec(
                        select(AuditRecord.outcome, func.count())
                        .where(col(AuditRecord.action) == "tool.call")
                        .group_by(col(AuditRecord.outcome))
                    )
                ).all()
            )
        verified = await verify_sealed(services.sessions, services.audit_seal_key)
    checked, broken = verified.checked, verified.broken
    recorded = sum(counts.values())
    print(
        f"audit: {calls} calls made through switchboard, {recorded} tool.call records "
        f"(by outcome: {json.dumps(counts, sort_keys=True)})"
    )
    state = "intact" if broken is None else f"broken at record {broken.seq}: {broken.problem}"
    sealed = "not sealed" if verified.seal is None else f"sealed through record {verified.seal.seq}"
    print(f"audit verify: {checked} records checked, chain {state}, {sealed}")
    return recorded == calls and broken is None and verified.seal is not None


HOT_PATHS = (
    ("switchboard/identity/bearer.py", "authenticate_bearer", "authentication (token, grants)"),
    ("mcp/server/_streamable_http_modern.py", "_mcp_param_rejection", "SDK Mcp-Param check"),
    ("toolhost/calls.py", "__call__", "call path (CallPath)"),
    ("sandboxes/sandbox.py", "call_tool", "  of which the sandbox hop"),
    ("switchboard/audit/writer.py", "_commit_batch", "audit writes (group commit)"),
    ("toolhost/telemetry.py", "__enter__", "telemetry span start"),
)


async def main(quick: bool, profiling: bool, mode: ConnectMode, stdio: StdioMode) -> int:
    rounds = 2 if quick else 10
    calls = {1: 40 if quick else 200, 16: 160 if quick else 800}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        wheels = tmp / "wheels"
        await asyncio.to_thread(build_wheel, wheels)
        settings = Settings(
            data_dir=tmp / "data",
            database_url=None,
            port=free_port(),
            wheelhouse=wheels,
            sandbox_pool_size=0,
            rate_limit_per_caller=0,
            sandbox_owner=f"bench-{uuid.uuid4().hex[:10]}",
            log_level="warning",
            sandbox_stdio=stdio,
        )
        print(f"sandbox stdio: {stdio_mode(stdio)} (SWITCHBOARD_SANDBOX_STDIO={stdio})")
        async with open_services(settings) as services:
            admin_token, token = await accounts(services)
        direct_port = free_port()
        direct_url = f"http://127.0.0.1:{direct_port}/mcp"
        base = settings.effective_public_url
        switchboard = [sys.executable, "-m", "switchboard.cli.main", "serve"]
        if profiling:
            switchboard = [sys.executable, "-c", PROFILED_SWITCHBOARD, str(tmp / "profile")]
        async with AsyncExitStack() as stack:
            direct_server = await stack.enter_async_context(
                child(
                    [sys.executable, "-c", DIRECT_SERVER, str(direct_port)],
                    dict(os.environ),
                    direct_url,
                    tmp / "direct.log",
                )
            )
            gateway = await stack.enter_async_context(
                child(switchboard, server_env(settings), f"{base}/healthz", tmp / "switchboard.log")
            )
            admin = await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base, headers={"Authorization": f"Bearer {admin_token}"}, timeout=60
                )
            )
            slug = await publish_calculator(admin, settings.default_team)
            targets = {
                "direct": await stack.enter_async_context(
                    connected("direct", direct_url, TOOL, None, mode)
                ),
                "switchboard": await stack.enter_async_context(
                    connected("switchboard", f"{base}/mcp", f"{slug}.{TOOL}", token, mode)
                ),
            }
            for target in targets.values():
                await target.call()  # the sandbox starts here
            sandbox, relay = await asyncio.to_thread(sandbox_processes, str(settings.sandbox_owner))
            for target, server in (
                (targets["direct"], direct_server),
                (targets["switchboard"], gateway),
            ):
                target.pids = {
                    "client": [os.getpid()],
                    "server": [server.pid],
                    "sandbox": sandbox,
                    "docker": relay,
                }
            if profiling:
                for concurrency in CONCURRENCY:
                    n = calls[concurrency] * (2 if quick else 4)
                    await load(targets["switchboard"], concurrency, 4 * concurrency)
                    async with profiled(gateway, tmp / "profile"):
                        await load(targets["switchboard"], concurrency, n)
                    print_profile(tmp / "profile", n, concurrency, HOT_PATHS)
                return 0
            results = {c: await measure(targets, c, rounds, calls[c]) for c in CONCURRENCY}
            protocol = targets["switchboard"].client.protocol_version
            gateway_calls = targets["switchboard"].calls
        added, ratio = report(results, rounds, protocol)
        audited = await audit_check(settings, gateway_calls)
    checks = [
        (
            f"added p50 at concurrency 1 <= {MAX_ADDED_P50_MS:g} ms: {added:.2f} ms",
            added <= MAX_ADDED_P50_MS,
        ),
        (
            f"throughput at concurrency 16 >= {MIN_THROUGHPUT_RATIO:g}x direct: {ratio:.2f}x",
            ratio >= MIN_THROUGHPUT_RATIO,
        ),
        (
            f"audit records == calls made after {gateway_calls:,} calls"
            + ("" if gateway_calls >= AUDITED_CALLS else f" (the target asks {AUDITED_CALLS:,})"),
            audited and (quick or gateway_calls >= AUDITED_CALLS),
        ),
    ]
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    passed = all(ok for _, ok in checks)
    print("PASS" if passed else "FAIL")
    return 0 if passed or quick else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few calls, never fails (smoke)")
    parser.add_argument(
        "--profile", action="store_true", help="profile the switchboard process instead"
    )
    parser.add_argument(
        "--legacy",
        action="store_true",
        help="the 2025-11-25 initialize handshake and a stateful session (Mcp-Session-Id) "
        "instead of the newest protocol the SDK negotiates",
    )
    parser.add_argument(
        "--stdio",
        choices=["auto", "socket", "attach"],
        default="auto",
        help="how the sandbox's stdin and stdout reach switchboard (SWITCHBOARD_SANDBOX_STDIO)",
    )
    args = parser.parse_args()
    connect: ConnectMode = "legacy" if args.legacy else "auto"
    sys.exit(asyncio.run(main(args.quick, args.profile, connect, args.stdio)))
