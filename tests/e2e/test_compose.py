"""S7's first step: `make image` then docker-compose runs Switchboard on PostgreSQL, with every
image built locally (no registry), and the catalogue survives a restart of the stack."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ROOT, api_token, environment, free_port

# `make image` puts the embedded model's wheels in the image: with an empty wheel cache it waits
# for `make test`'s background llama.cpp build, so this runs last with the other tests that do.
pytestmark = pytest.mark.local_model


def compose(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker-compose", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


@contextmanager
def healthy(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        deadline = time.monotonic() + 180
        while True:
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{base_url} never became healthy"
            time.sleep(1)
        yield client


@pytest.fixture(scope="module")
def stack_env() -> Iterator[dict[str, str]]:
    built = subprocess.run(["make", "image"], cwd=ROOT, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    env = environment(
        COMPOSE_PROJECT_NAME=f"sbtest{uuid.uuid4().hex[:8]}",
        POSTGRES_PASSWORD=uuid.uuid4().hex,
        POSTGRES_PORT=str(free_port()),
        SWITCHBOARD_PORT=str(free_port()),
    )
    try:
        yield env
    finally:
        compose(env, "down", "-v", "--remove-orphans")


def test_compose_stack_on_postgres(stack_env: dict[str, str]) -> None:
    started = compose(stack_env, "up", "-d", "--no-build")
    assert started.returncode == 0, started.stderr
    base_url = f"http://127.0.0.1:{stack_env['SWITCHBOARD_PORT']}"
    token = api_token(stack_env, ("docker-compose", "exec", "-T", "switchboard"))
    with healthy(base_url) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        manifest = json.loads(Path(ROOT / "examples" / "clock" / "server.json").read_text())
        assert client.post("/api/v1/servers?discover=false", json=manifest).status_code == 201

    restarted = compose(stack_env, "restart")
    assert restarted.returncode == 0, restarted.stderr
    with healthy(base_url) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        assert [s["slug"] for s in client.get("/api/v1/servers").json()] == ["clock"]

    database_url = compose(
        stack_env, "exec", "-T", "switchboard", "printenv", "SWITCHBOARD_DATABASE_URL"
    )
    assert database_url.stdout.startswith("postgresql://switchboard:")
    user = compose(stack_env, "exec", "-T", "switchboard", "id", "-u")
    assert user.stdout.strip() == "10001"
