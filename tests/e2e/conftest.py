"""Helpers for stories played through the real command line and a real server process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[2]
BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["PATH"] = f"{BIN}:{env['PATH']}"
    env.update(values)
    return env


def api_token(env: Mapping[str, str], prefix: tuple[str, ...] = ()) -> str:
    """An admin's token for the JSON API, made through the command line as an operator would.

    `prefix` runs the commands elsewhere, such as inside a compose service.
    """
    create = ["token", "create", "--user", "admin", "--name", "e2e", "--scope", "api"]
    for command in (["switchboard", "init"], ["switchboard", "--json", *create]):
        result = subprocess.run(
            [*prefix, *command], cwd=ROOT, env=dict(env), capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    token: str = json.loads(result.stdout)["token"]
    return token


@contextmanager
def running(command: list[str], env: Mapping[str, str], port: int) -> Iterator[httpx.Client]:
    """Start a server command in its own process group; yield a client once /healthz answers."""
    log = open(Path(env["SWITCHBOARD_DATA_DIR"]).parent / f"server-{port}.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 300
            while True:
                assert process.poll() is None, Path(log.name).read_text()[-3000:]
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not become healthy"
                time.sleep(0.2)
            yield client
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
