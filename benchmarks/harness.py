"""What the overhead benchmarks share: child servers started and stopped like a person would
(Ctrl-C), free ports, and cProfile switched on inside a running `switchboard serve`."""

from __future__ import annotations

import asyncio
import pstats
import signal
import socket
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 120
PROFILED_SWITCHBOARD = """
import cProfile, signal, sys, time
from switchboard.cli.main import main
profiler, out = cProfile.Profile(time.thread_time), sys.argv[1]
signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
signal.signal(signal.SIGUSR2, lambda *_: (profiler.disable(), profiler.dump_stats(out)))
main(["serve"])
"""
"""`switchboard serve`, profiled while SIGUSR1 has switched cProfile on, until SIGUSR2
writes the profile to the file named by the first argument. The clock is the event loop
thread's CPU time, so time spent waiting for a CPU on a busy machine is not counted."""
HotPath = tuple[str, str, str]
"""A file's path suffix, a function name in it, and how to label its inclusive time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def child(
    argv: list[str], env: dict[str, str], ready_url: str, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run `argv` until the block ends (then SIGINT, as Ctrl-C stops a server), once
    `ready_url` answers; its output goes to `log`, shown if it fails to start."""
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT, cwd=ROOT
        )
        try:
            await _until_ready(process, ready_url, log)
            yield process
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _until_ready(process: asyncio.subprocess.Process, url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            if process.returncode is not None:
                output = await anyio.Path(log).read_text()
                raise RuntimeError(f"{url}: the server exited while starting:\n{output}")
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url}: no answer within {STARTUP_SECONDS} s") from None
                await asyncio.sleep(0.1)


@asynccontextmanager
async def profiled(process: asyncio.subprocess.Process, out: Path) -> AsyncIterator[None]:
    """cProfile on in the Switchboard process while the block runs, then its profile written
    to `out`."""
    await anyio.Path(out).unlink(missing_ok=True)
    process.send_signal(signal.SIGUSR1)
    try:
        yield
    finally:
        process.send_signal(signal.SIGUSR2)
    size = -1
    with anyio.fail_after(60):
        while size != (size := await _size(out)) or not size:
            await asyncio.sleep(0.2)  # until the file is written out


async def _size(path: Path) -> int:
    apath = anyio.Path(path)
    return (await apath.stat()).st_size if await apath.exists() else 0


def print_profile(
    out: Path, calls: int, concurrency: int, hot_paths: Sequence[HotPath], top: int = 15
) -> None:
    """Inclusive time per call of `hot_paths` and the `top` largest own times, per call."""
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    own = sum(row[2] for row in raw.values())
    print(
        f"cProfile of the switchboard process, {calls} calls at concurrency {concurrency}: "
        f"{own / calls * 1e6:.0f} us own time per call (profiler overhead included)"
    )
    print("  inclusive time per call in the main steps:")
    for path, name, label in hot_paths:
        spent = sum(
            row[3] for (file, _, func_), row in raw.items() if file.endswith(path) and func_ == name
        )
        print(f"  {spent / calls * 1e6:8.0f} us  {label}")
    print("  largest own times per call:")
    for (file, line, name), row in sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]:
        short = file.split("site-packages/")[-1].removeprefix(f"{ROOT}/")
        print(f"  {row[2] / calls * 1e6:8.0f} us  {short}:{line}({name})")
