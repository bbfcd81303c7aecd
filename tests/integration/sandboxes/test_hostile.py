"""Hostile tool servers in real sandboxes: each attack is contained and Switchboard keeps serving.

The server is `tests/fixtures/hostile` (`switchboard-test-hostile`), built into a tool image by
`ImageBuilder` like any PyPI server, and run with small limits (128 MB, 32 pids, 0.5 CPU, 16 MB
/tmp). Its tools report what they saw from the inside; the tests check the same from the host.
A healthy reference sandbox of the same image answers `echo` during and after every attack.

| Case (tool or `--mode`) | Contained by | Switchboard reports / does |
|---|---|---|
| write to `/`, `/etc`, `/opt/server`, `/usr/local/bin`, `/root`, `/var/tmp`, `/run`, \
`/run/switchboard` (the stdio socket's mount) (`write_outside`) | read-only rootfs, uid \
10001; the socket's directory is a read-only mount, emptied and removed on the host once \
connected | tool sees EROFS / EACCES (ENOENT in the removed directory) |
| write `$HOME` | HOME is /tmp (env and passwd) | /tmp is the only writable place |
| fill /tmp (`fill_tmp`) | tmpfs `size=` (16 MB here) | ENOSPC; the server keeps working |
| exec a binary / script from /tmp (`exec_from_tmp`) | tmpfs `noexec,nosuid,nodev` | EACCES |
| read the project dir, a host canary file (`read_host`) | own mount ns; the one bind mount \
is the stdio socket's directory, read-only and emptied once connected | absent |
| read /etc/shadow | not root | EACCES (and it is the image's own) |
| Docker socket at /var/run, /run | never mounted | absent |
| host processes: `/proc/*/environ`, `cmdline`, `/proc/1` | own PID namespace | PID 1 is the \
container's docker-init; a host canary process is invisible |
| TCP to the host: 172.17.0.1, LAN IP, 127.0.0.1, listener on 0.0.0.0 (`connect`) | \
`network none` (loopback only) | ENETUNREACH / ECONNREFUSED; the listener sees nothing |
| 169.254.169.254:80 | `network none` | ENETUNREACH |
| egress: the allowlisted host through the proxy (`http_get`) | egress proxy | 200 (control) |
| egress: other host, metadata, host IPs through the proxy | proxy allowlist, non-public IPs \
refused | 403 from the proxy |
| egress: same directly, and the network's gateway | `internal` network, bridge without IPv4, \
no DNS | name resolution fails / no route / timeout; the host listener sees nothing |
| fork bomb (`fork_bomb`: a real `sh` bomb) | pids limit (32) | pids <= 32 from inside and \
from `docker stats`; forks fail with EAGAIN; the server survives and answers |
| memory bomb (`memory_bomb`) | memory = memory+swap limit (128 MB) | OOM kill (OOMKilled, \
exit 137); SandboxCrashedError; a fresh sandbox starts |
| CPU spin forever on the event loop (`spin`) | CPU quota 0.5, call timeout | \
SandboxTimeoutError after 2 s; sandbox broken, removed, replaced; CPU throttled |
| endless stdout / stderr (`flood`) | bounded streams, 64 KiB stderr tail, call timeout | \
SandboxTimeoutError; Switchboard's memory stays flat; replaced |
| one 64 MiB stdout line (`huge_line`) | 8 MiB line cap (`sandboxes/stdio.py`) | session \
closed, SandboxCrashedError; Switchboard's memory stays flat; replaced |
| invalid JSON-RPC before / among responses (`--mode garbage`, `garbage`) | each bad line \
dropped as a parse error | the session keeps working; answers stay correct |
| exit mid-call (`exit_now`: `os._exit(3)`) | the container ends with the server | \
SandboxCrashedError; container removed; a fresh sandbox starts |
| never answer `initialize` (`--mode silent`) | `start_timeout` (3 s here) | \
SandboxStartError "no answer to `initialize` within 3 s"; container removed |
| exit before serving (`--mode exit`) | - | SandboxStartError with the server's stderr |
| privileges (`privileges`) | uid/gid 10001, cap_drop ALL, no-new-privileges, seccomp | \
CapEff/CapPrm/CapBnd/CapAmb 0, NoNewPrivs 1, Seccomp 2; setuid `su` keeps euid 10001 |
| anything left behind | owner label on every container; manager shutdown | \
`docker ps -a --filter label=dev.switchboard.owner=<owner>` is empty |
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import docker
import mcp_types as types
import pytest
import pytest_asyncio

from sandboxes.errors import SandboxCrashedError, SandboxStartError, SandboxTimeoutError
from sandboxes.images import BuiltImage
from sandboxes.manager import SandboxManager
from sandboxes.ownership import OWNER
from sandboxes.profile import Limits, RunProfile
from sandboxes.sandbox import Sandbox, SandboxSpec

pytestmark = [
    pytest.mark.docker,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.xdist_group("hostile"),  # one module-scoped manager and image
]

ROOT = Path(__file__).parents[3]
LIMITS = Limits(memory_mb=128, cpus=0.5, pids=32, tmp_mb=16)
CALL_TIMEOUT = 20.0
MiB = 1024 * 1024


# --- fixtures -----------------------------------------------------------------------------------


@dataclass
class HostListener:
    """A TCP listener on the host's 0.0.0.0: a sandbox must never reach it."""

    sock: socket.socket
    port: int
    peers: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture(scope="module")
def host_listener() -> Iterator[HostListener]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", 0))  # the point: every host address
    sock.listen(16)
    listener = HostListener(sock, sock.getsockname()[1])

    def accept() -> None:
        while True:
            try:
                conn, peer = sock.accept()
            except OSError:
                return
            listener.peers.append(peer)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    yield listener
    sock.close()


@dataclass
class Canary:
    """A secret only the host has: in a host process's argv and environment, and in a file."""

    token: str
    path: Path


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canary]:
    token = "sb-canary-" + uuid.uuid4().hex
    path = tmp_path_factory.mktemp("canary") / "canary.txt"
    path.write_text(token)
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", token],
        env={**os.environ, "SB_HOSTILE_CANARY": token},
    )
    yield Canary(token, path)
    process.kill()
    process.wait()


def hostile_spec(image: BuiltImage, mode: str | None = None, **changes: Any) -> SandboxSpec:
    values: dict[str, Any] = {
        "image_id": image.image_id,
        "command": [*image.command, *(["--mode", mode] if mode else [])],
        "profile": RunProfile(limits=LIMITS),
        "start_timeout": 30.0,
        "name": f"hostile-{mode or 'serve'}",
    }
    return SandboxSpec(**{**values, **changes})


@dataclass
class Harness:
    docker: docker.DockerClient
    manager: SandboxManager
    image: BuiltImage
    owner: str
    reference: Sandbox
    stop: asyncio.Event
    holder: asyncio.Task[None]

    def spec(self, mode: str | None = None, **changes: Any) -> SandboxSpec:
        return hostile_spec(self.image, mode, **changes)

    @asynccontextmanager
    async def sandbox(self, mode: str | None = None, **changes: Any) -> AsyncIterator[Sandbox]:
        sandbox = await self.manager.start(self.spec(mode, **changes))
        try:
            yield sandbox
        finally:
            await self.manager.discard(sandbox)

    def containers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.docker.api.containers(
            all=True, filters={"label": f"{OWNER}={self.owner}"}
        )
        return found

    async def shutdown(self) -> None:
        self.stop.set()
        await self.holder


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def harness(
    docker_client: docker.DockerClient, hostile_image: BuiltImage
) -> AsyncIterator[Harness]:
    """One manager for the module; its task group lives in a task of its own, since a module
    fixture's setup and teardown run in different tasks."""
    owner = f"test-hostile-{uuid.uuid4().hex[:10]}"
    # No sweeps of broken sandboxes: a test inspects its crashed container before discarding it.
    manager = SandboxManager(docker_client.api, owner=owner, pool_size=0, expiry_interval=3600)
    ready, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with manager.running():
            ready.set()
            await stop.wait()

    holder = asyncio.create_task(hold())
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({holder, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.is_set():
        waiter.cancel()
        await holder  # raises why the manager did not start
    try:
        reference = await manager.start(hostile_spec(hostile_image, name="reference"))
        yield Harness(docker_client, manager, hostile_image, owner, reference, stop, holder)
    finally:
        stop.set()
        await holder
        await anyio.to_thread.run_sync(manager.remove_leftovers)


# --- helpers ------------------------------------------------------------------------------------


def _rss() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Observed:
    outcome: Any
    """The attack's result, or the exception it raised."""
    pings: list[float]
    """Latencies of the reference server's `echo` while the attack ran, and once after."""
    rss_growth: int
    """Peak growth of this (Switchboard's) process's resident memory during the attack."""

    @property
    def result(self) -> dict[str, Any]:
        assert isinstance(self.outcome, types.CallToolResult), self.outcome
        assert not self.outcome.is_error, self.outcome
        assert self.outcome.structured_content is not None
        return self.outcome.structured_content


async def attack(h: Harness, hostile: Awaitable[Any]) -> Observed:
    """Run `hostile` while the reference answers `echo`; check it answered throughout."""
    done = anyio.Event()
    outcome: Any = None
    pings: list[float] = []
    baseline = peak = _rss()

    async def run() -> None:
        nonlocal outcome
        try:
            outcome = await hostile
        except Exception as exc:
            outcome = exc
        finally:
            done.set()

    async def ping() -> None:
        count = 0
        while True:
            finished = done.is_set()
            start = time.perf_counter()
            answer = await h.reference.call_tool("echo", {"text": f"ping {count}"}, timeout=10)
            pings.append(time.perf_counter() - start)
            assert answer.structured_content == {
                "echo": f"ping {count}",
                "pid": answer.structured_content["pid"],
            }
            count += 1
            if finished:
                return
            with anyio.move_on_after(0.2):
                await done.wait()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss())
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run)
        tasks.start_soon(ping)
        tasks.start_soon(sample)
    observed = Observed(outcome, pings, peak - baseline)
    assert len(observed.pings) >= 2, "the reference must answer during and after the attack"
    assert max(observed.pings) < 5, f"the reference slowed down: {observed.pings}"
    return observed


async def wait_exited(h: Harness, sandbox: Sandbox) -> dict[str, Any]:
    for _ in range(100):
        state: dict[str, Any] = h.docker.api.inspect_container(sandbox.container_id)["State"]
        if state["Status"] in ("exited", "dead"):
            return state
        await anyio.sleep(0.1)
    raise AssertionError(f"{sandbox.container_id[:12]} is still {state['Status']}")


def echoed(result: types.CallToolResult) -> str:
    assert not result.is_error, result
    assert result.structured_content is not None
    text: str = result.structured_content["echo"]
    return text


def stats_of(h: Harness, sandbox: Sandbox) -> dict[str, Any]:
    found: dict[str, Any] = h.docker.api.stats(sandbox.container_id, stream=False, one_shot=True)
    return found


def assert_removed(h: Harness, sandbox: Sandbox) -> None:
    with pytest.raises(docker.errors.NotFound):
        h.docker.api.inspect_container(sandbox.container_id)


async def assert_fresh_sandbox_works(h: Harness) -> None:
    """After a crash or timeout, the same image starts again and answers."""
    async with h.sandbox() as fresh:
        result = await fresh.call_tool("echo", {"text": "fresh"}, timeout=CALL_TIMEOUT)
        assert echoed(result) == "fresh"


def _expect_crash(outcome: Any, sandbox: Sandbox) -> None:
    """The server died or broke the protocol mid-call: Switchboard must say so as a crash."""
    assert isinstance(outcome, SandboxCrashedError), repr(outcome)
    assert "stopped during tools/call" in str(outcome)
    assert sandbox.broken


# --- the cases ----------------------------------------------------------------------------------


async def test_reference_and_hostile_tools_are_served(harness: Harness) -> None:
    tools = {tool.name for tool in await harness.reference.list_tools()}
    assert {"echo", "spin", "fork_bomb", "memory_bomb", "huge_line", "exit_now"} <= tools


async def test_runs_unprivileged_and_setuid_cannot_escalate(harness: Harness) -> None:
    async with harness.sandbox() as sandbox:
        seen = await attack(harness, sandbox.call_tool("privileges", {}, timeout=CALL_TIMEOUT))
    found = seen.result
    assert (found["uid"], found["euid"], found["gid"]) == (10001, 10001, 10001)
    assert 0 not in found["groups"]
    for field_name in ("cap_eff", "cap_prm", "cap_bnd", "cap_amb"):
        assert int(found[field_name], 16) == 0, (field_name, found[field_name])
    assert found["no_new_privs"] == "1"
    assert found["seccomp"] == "2"  # a seccomp filter (Docker's default profile)
    setuid = found["setuid"]
    assert setuid["setuid_bit"] is True, "the check needs a real setuid-root binary"
    assert setuid["observed"] is True
    assert setuid["uids"] == [10001, 10001, 10001, 10001]
    assert setuid["escalated"] is False


async def test_cannot_write_outside_tmp_nor_exec_from_tmp(harness: Harness) -> None:
    async with harness.sandbox() as sandbox:
        writes = await attack(harness, sandbox.call_tool("write_outside", {}, timeout=CALL_TIMEOUT))
        execs = await attack(harness, sandbox.call_tool("exec_from_tmp", {}, timeout=CALL_TIMEOUT))
        fill = await attack(harness, sandbox.call_tool("fill_tmp", {}, timeout=CALL_TIMEOUT))
        still = await sandbox.call_tool("echo", {"text": "alive"}, timeout=CALL_TIMEOUT)

    assert writes.result["home"] == "/tmp"
    results = writes.result["results"]
    assert {"/", "/etc", "/opt/server", "/usr/local/bin", "/root", "/tmp"} <= set(results)
    assert results["/tmp"] == {"wrote": True, "error": None}
    # The stdio socket's directory: mounted read-only, and removed on the host once connected.
    assert results.pop("/run/switchboard") == {"wrote": False, "error": "No such file or directory"}
    for path, outcome in results.items():
        if path != "/tmp":
            assert outcome["wrote"] is False, path
            assert outcome["error"] in ("Read-only file system", "Permission denied"), path

    assert "noexec" in execs.result["mount_options"]
    for kind in ("binary", "script"):
        assert execs.result[kind] == {"executed": False, "error": "Permission denied"}, kind

    assert fill.result["error"] == "No space left on device"
    assert fill.result["written_mb"] <= LIMITS.tmp_mb
    assert echoed(still) == "alive"


async def test_host_files_processes_and_docker_socket_are_invisible(
    harness: Harness, canary: Canary
) -> None:
    paths = [str(ROOT), str(ROOT / "pyproject.toml"), str(canary.path), str(canary.path.parent)]
    async with harness.sandbox() as sandbox:
        seen = await attack(
            harness,
            sandbox.call_tool(
                "read_host", {"paths": paths, "canary": canary.token}, timeout=CALL_TIMEOUT
            ),
        )
        short_id = sandbox.container_id[:12]
    found = seen.result
    for path in paths:
        assert found["paths"][path]["exists"] is False, path
    assert found["shadow"]["readable"] is False
    assert found["shadow"]["error"] == "Permission denied"
    assert not any(found["docker_sockets"].values()), found["docker_sockets"]
    # PID 1 is this container's init, and its environment is the container's own.
    assert found["proc1_cmdline"].startswith("/sbin/docker-init -- /usr/bin/tini")
    assert f"HOSTNAME={short_id}" in found["proc1_environ"].get("head", "")
    assert canary.token not in str(found)
    assert found["canary_found_in"] == []
    assert found["processes_visible"] < 10


def _host_addresses(h: Harness) -> dict[str, str]:
    bridge = h.docker.networks.get("bridge").attrs["IPAM"]["Config"][0]
    gateway = bridge.get("Gateway") or "172.17.0.1"
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 9))  # no packet is sent: this only picks a route
        lan = probe.getsockname()[0]
    finally:
        probe.close()
    return {"docker bridge gateway": gateway, "host LAN address": lan, "loopback": "127.0.0.1"}


def _assert_host_reaches(address: str, port: int) -> None:
    """Positive control: the listener really is reachable on `address` from the host."""
    with socket.create_connection((address, port), timeout=2):
        pass


async def test_host_services_and_metadata_are_unreachable(
    harness: Harness, host_listener: HostListener
) -> None:
    targets = _host_addresses(harness)
    for address in targets.values():
        _assert_host_reaches(address, host_listener.port)
    await anyio.sleep(0.1)
    host_listener.peers.clear()
    async with harness.sandbox() as sandbox:
        for what, address in targets.items():
            seen = await attack(
                harness,
                sandbox.call_tool(
                    "connect",
                    {"host": address, "port": host_listener.port, "timeout": 1.5},
                    timeout=CALL_TIMEOUT,
                ),
            )
            assert seen.result["connected"] is False, what
            assert seen.result["error"] in ("Network is unreachable", "Connection refused"), what
        metadata = await sandbox.call_tool(
            "connect", {"host": "169.254.169.254", "port": 80, "timeout": 1.5}, timeout=CALL_TIMEOUT
        )
    assert metadata.structured_content is not None
    assert metadata.structured_content["connected"] is False
    await anyio.sleep(0.2)
    assert host_listener.peers == []


async def test_egress_allows_only_the_allowlist_through_the_proxy(
    harness: Harness, host_listener: HostListener
) -> None:
    try:
        from sandboxes.egress import EgressNetworks, proxy_environment
    except ImportError as exc:
        pytest.skip(f"sandboxes.egress is not available yet: {exc}")
    egress = EgressNetworks(harness.docker, owner=harness.owner)
    try:
        attachment = await anyio.to_thread.run_sync(
            egress.ensure, f"hostile-{harness.owner[-10:]}", ["pypi.org"]
        )
        network = harness.docker.networks.get(attachment.network).attrs
        gateway = network["IPAM"]["Config"][0]["Gateway"]
        profile = RunProfile(
            limits=LIMITS, network=attachment.network, environment=proxy_environment(attachment)
        )
        port = host_listener.port
        host_listener.peers.clear()
        direct = [*_host_addresses(harness).values(), gateway, "169.254.169.254"]
        with contextlib.suppress(OSError):
            direct.append(socket.gethostbyname("pypi.org"))  # allowed by name, not directly
        calls: list[tuple[str, dict[str, Any]]] = [
            ("http_get", {"url": "https://pypi.org/simple/"}),
            ("http_get", {"url": "https://example.com/"}),
            ("http_get", {"url": "http://169.254.169.254/latest/meta-data/"}),
            *[
                ("http_get", {"url": f"http://{address}:{port}/"})
                for address in _host_addresses(harness).values()
            ],
            ("resolve", {"name": "example.com"}),
            ("resolve", {"name": "pypi.org"}),
            *[("connect", {"host": address, "port": port, "timeout": 1}) for address in direct],
            ("connect", {"host": direct[-1], "port": 443, "timeout": 1}),
        ]
        async with harness.sandbox(profile=profile) as sandbox:
            results = []
            for tool, arguments in calls:
                seen = await attack(harness, sandbox.call_tool(tool, arguments, timeout=30))
                results.append((tool, arguments, seen.result))
    finally:
        await anyio.to_thread.run_sync(egress.remove_all)

    (_, _, allowed), *refused = results
    assert allowed["status"] == 200, "positive control: the allowlisted host is reachable"
    for tool, arguments, found in refused:
        if tool == "connect":
            assert found["connected"] is False, (arguments, found)
        elif tool == "resolve":
            assert found["addresses"] == [], (arguments, found)
        else:
            assert "403" in f"{found['status']} {found['error']}", (arguments, found)
    await anyio.sleep(0.2)
    assert host_listener.peers == []


async def test_fork_bomb_stays_within_the_pids_limit(harness: Harness) -> None:
    async with harness.sandbox() as sandbox:
        pids_seen: list[int] = []

        async def bomb() -> Any:
            return await sandbox.call_tool("fork_bomb", {"seconds": 3.0}, timeout=CALL_TIMEOUT)

        stop = anyio.Event()

        async def watch() -> None:
            # From the host, while the bomb runs: the container's pid count from its cgroup.
            while not stop.is_set():
                stats = await anyio.to_thread.run_sync(stats_of, harness, sandbox)
                pids_seen.append(stats["pids_stats"].get("current", 0))
                await anyio.sleep(0.2)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watch)
            seen = await attack(harness, bomb())
            stop.set()
        survived = await sandbox.call_tool("echo", {"text": "survived"}, timeout=CALL_TIMEOUT)

    found = seen.result
    assert found["pids_max"] == str(LIMITS.pids)
    assert found["peak"] <= LIMITS.pids
    assert found["server_forks"]["failed"] > 0
    assert found["server_forks"]["error"] == "Resource temporarily unavailable"
    assert found["after"] <= found["before"] + 1
    assert pids_seen
    assert max(pids_seen) <= LIMITS.pids
    assert echoed(survived) == "survived"


async def test_memory_bomb_is_oom_killed_and_reported_as_a_crash(harness: Harness) -> None:
    async with harness.sandbox() as sandbox:
        seen = await attack(harness, sandbox.call_tool("memory_bomb", {}, timeout=CALL_TIMEOUT))
        state = await wait_exited(harness, sandbox)
    assert state["OOMKilled"] is True
    assert state["ExitCode"] == 137
    assert_removed(harness, sandbox)
    await assert_fresh_sandbox_works(harness)
    _expect_crash(seen.outcome, sandbox)


async def test_cpu_spin_times_out_and_the_sandbox_is_replaced(harness: Harness) -> None:
    async with harness.sandbox() as sandbox:
        start = time.monotonic()
        seen = await attack(harness, sandbox.call_tool("spin", {}, timeout=2))
        elapsed = time.monotonic() - start
        assert isinstance(seen.outcome, SandboxTimeoutError), repr(seen.outcome)
        assert "'spin' did not answer within 2 s" in str(seen.outcome)
        assert sandbox.broken
        assert elapsed < 6
        with pytest.raises(SandboxCrashedError, match="no longer running"):
            await sandbox.call_tool("echo", {"text": "x"}, timeout=CALL_TIMEOUT)
        stats = await anyio.to_thread.run_sync(stats_of, harness, sandbox)
        throttling = stats["cpu_stats"].get("throttling_data", {})
        assert throttling.get("throttled_periods", 0) > 0, "the CPU quota should throttle it"
    assert_removed(harness, sandbox)
    await assert_fresh_sandbox_works(harness)


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
async def test_endless_output_times_out_with_bounded_memory(harness: Harness, stream: str) -> None:
    async with harness.sandbox() as sandbox:
        seen = await attack(harness, sandbox.call_tool("flood", {"stream": stream}, timeout=2))
        assert isinstance(seen.outcome, SandboxTimeoutError), repr(seen.outcome)
        assert sandbox.broken
        assert len(sandbox.log.tail(10_000).encode()) <= 64 * 1024
    assert seen.rss_growth < 32 * MiB, f"Switchboard grew by {seen.rss_growth / MiB:.1f} MiB"
    assert_removed(harness, sandbox)
    await assert_fresh_sandbox_works(harness)


async def test_huge_stdout_line_is_rejected_with_bounded_memory(harness: Harness) -> None:
    async with harness.sandbox() as sandbox:
        seen = await attack(
            harness, sandbox.call_tool("huge_line", {"megabytes": 64}, timeout=CALL_TIMEOUT)
        )
        for _ in range(50):  # the session ends just after the call fails
            if sandbox.broken:
                break
            await anyio.sleep(0.05)
        assert sandbox.broken
    assert not isinstance(seen.outcome, types.CallToolResult), "the line must not be accepted"
    assert seen.rss_growth < 40 * MiB, f"Switchboard grew by {seen.rss_growth / MiB:.1f} MiB"
    assert_removed(harness, sandbox)
    await assert_fresh_sandbox_works(harness)
    _expect_crash(seen.outcome, sandbox)


async def test_invalid_json_rpc_lines_are_dropped_and_answers_stay_correct(
    harness: Harness,
) -> None:
    async with harness.sandbox(mode="garbage") as sandbox:
        first = await attack(harness, sandbox.call_tool("echo", {"text": "a"}, timeout=10))
        among = await attack(harness, sandbox.call_tool("garbage", {}, timeout=10))
        after = await sandbox.call_tool("echo", {"text": "b"}, timeout=10)
        assert not sandbox.broken
    assert first.result["echo"] == "a"
    assert among.result == {"garbage_lines": 8}
    assert echoed(after) == "b"


async def test_exit_mid_call_is_a_crash_and_the_sandbox_is_replaced(harness: Harness) -> None:
    async with harness.sandbox() as sandbox:
        seen = await attack(harness, sandbox.call_tool("exit_now", {}, timeout=CALL_TIMEOUT))
        state = await wait_exited(harness, sandbox)
        for _ in range(50):
            if sandbox.broken:
                break
            await anyio.sleep(0.05)
        assert sandbox.broken
        assert "hostile: exiting mid-call" in sandbox.log.tail()
    assert state["ExitCode"] == 3
    assert_removed(harness, sandbox)
    await assert_fresh_sandbox_works(harness)
    _expect_crash(seen.outcome, sandbox)


async def test_never_answering_initialize_is_a_start_error(harness: Harness) -> None:
    start = time.monotonic()
    seen = await attack(harness, harness.manager.start(harness.spec("silent", start_timeout=3)))
    elapsed = time.monotonic() - start
    assert isinstance(seen.outcome, SandboxStartError), repr(seen.outcome)
    assert "hostile-silent: no answer to `initialize` within 3 s" in str(seen.outcome)
    assert 3 <= elapsed < 10
    # The failed start removed its container: only the reference is left.
    assert [c["Id"] for c in harness.containers()] == [harness.reference.container_id]
    await assert_fresh_sandbox_works(harness)


async def test_exiting_before_initialize_is_a_start_error_with_its_log(harness: Harness) -> None:
    seen = await attack(harness, harness.manager.start(harness.spec("exit", start_timeout=10)))
    assert isinstance(seen.outcome, SandboxStartError), repr(seen.outcome)
    assert "hostile-exit: the server exited before answering `initialize` (exit code" in str(
        seen.outcome
    )
    assert "hostile: refusing to start (mode exit)" in seen.outcome.log
    assert [c["Id"] for c in harness.containers()] == [harness.reference.container_id]


async def test_the_reference_served_throughout_and_nothing_is_left_behind(
    harness: Harness,
) -> None:
    """Runs last: the reference still answers, then the manager closes and leaves nothing."""
    answer = await harness.reference.call_tool("echo", {"text": "last"}, timeout=CALL_TIMEOUT)
    assert echoed(answer) == "last"
    assert not harness.reference.broken
    await harness.shutdown()
    assert harness.containers() == []
    networks = harness.docker.networks.list(filters={"label": f"{OWNER}={harness.owner}"})
    assert networks == []
