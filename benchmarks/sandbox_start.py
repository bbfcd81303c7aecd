"""Sandbox costs against the same server run as a plain host process, measured side by side.

Prints ratios (targets from the sandboxes issue):
- cold start to a finished `tools/list`: sandbox vs host process (target <= 1.5x);
- warm-pool acquisition to a finished `tools/list` vs one `tools/call` on an open session
  (target <= 5x);
- steady `tools/call` latency: container stdio vs host stdio (target <= 1.2x);
- idle memory per pooled sandbox (MiB, from the container's cgroup).

The server is the bundled example `switchboard-example-clock`, installed in the host venv and
built into a sandbox image from its wheel. Usage: python benchmarks/sandbox_start.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import docker
from mcp import Client, StdioServerParameters

from sandboxes.images import ImageBuilder, ImageSpec
from sandboxes.manager import SandboxManager
from sandboxes.sandbox import SandboxSpec

ROOT = Path(__file__).parents[1]
HOST_COMMAND = str(Path(sys.executable).parent / "switchboard-example-clock")
CALL = ("current_time", {"timezone": "Europe/Paris"})


async def side_by_side(
    first: Callable[[], Awaitable[Any]], second: Callable[[], Awaitable[Any]], repeats: int
) -> tuple[float, float]:
    """Medians of the two actions timed alternately, so drift on a noisy machine hits both."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for action, timings in ((first, samples[0]), (second, samples[1])):
            start = time.perf_counter()
            await action()
            timings.append(time.perf_counter() - start)
    return statistics.median(samples[0]), statistics.median(samples[1])


def build_image(workdir: Path) -> str:
    wheels = workdir / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            str(ROOT / "examples/clock"),
            "-w",
            str(wheels),
        ],
        check=True,
    )
    built = ImageBuilder(docker.from_env(), wheelhouse=wheels).ensure(
        ImageSpec("pypi", "switchboard-example-clock", "0.1.0")
    )
    return built.image_id


async def host_cold() -> None:
    async with Client(StdioServerParameters(command=HOST_COMMAND)) as client:
        await client.list_tools()


def idle_memory_mib(api: Any, container_id: str) -> float:
    stats = api.stats(container_id, stream=False)
    usage = stats["memory_stats"].get("usage", 0)
    inactive = stats["memory_stats"].get("stats", {}).get("inactive_file", 0)
    return float(usage - inactive) / 1024 / 1024


async def main(repeats: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        image_id = await anyio.to_thread.run_sync(build_image, Path(tmp))
    api = docker.from_env().api
    manager = SandboxManager(api, owner=f"bench-{uuid.uuid4().hex[:8]}", pool_size=1)
    spec = SandboxSpec(image_id=image_id, name="clock")
    results: dict[str, float] = {}
    async with manager.running():

        async def sandbox_cold() -> None:
            async with await manager.start(spec) as sandbox:
                await sandbox.list_tools()

        await host_cold()  # warm the page cache for both sides
        await sandbox_cold()
        results["host_cold"], results["sandbox_cold"] = await side_by_side(
            host_cold, sandbox_cold, max(3, repeats // 10)
        )

        async with (
            Client(StdioServerParameters(command=HOST_COMMAND)) as host,
            await manager.start(spec) as sandbox,
        ):
            results["host_call"], results["sandbox_call"] = await side_by_side(
                lambda: host.call_tool(*CALL),
                lambda: sandbox.call_tool(*CALL, timeout=10),
                repeats,
            )

        pool = manager.pool("clock", lambda: spec)
        acquisitions = []
        memory = []
        for _ in range(max(3, repeats // 10)):
            pool.refill()
            while pool.idle < 1:
                await anyio.sleep(0.05)
            await anyio.sleep(0.5)
            waiting = pool._idle[0]
            memory.append(idle_memory_mib(api, waiting.container_id))
            start = time.perf_counter()
            sandbox = await pool.acquire()
            await sandbox.list_tools()
            acquisitions.append(time.perf_counter() - start)
            await manager.discard(sandbox)
        results["warm_acquire"] = statistics.median(acquisitions)
        results["idle_mib"] = statistics.median(memory)

    cold = results["sandbox_cold"] / results["host_cold"]
    warm = results["warm_acquire"] / results["sandbox_call"]
    steady = results["sandbox_call"] / results["host_call"]
    print(
        f"sandbox benchmark (example clock server, medians; {repeats} calls, "
        f"{max(3, repeats // 10)} starts)"
    )
    print(f"cold start to tools/list, sandbox vs host process:  {cold:5.2f}x  (target <= 1.5x)")
    print(f"warm-pool acquire + tools/list vs one tools/call:   {warm:5.2f}x  (target <= 5x)")
    print(f"steady tools/call, container vs host stdio:         {steady:5.2f}x  (target <= 1.2x)")
    print(f"idle memory per pooled sandbox:                     {results['idle_mib']:5.1f} MiB")
    ok = cold <= 1.5 and warm <= 5 and steady <= 1.2
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    if shutil.which("docker") is None:
        sys.exit("docker is not installed; run `make up` first")
    sys.exit(anyio.run(main, 30 if args.quick else 200))
