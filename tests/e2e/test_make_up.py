"""`make up` as a new user runs it: the service comes up, and running it again keeps the data."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, api_token, environment, free_port, running

# `make up` installs the embedded model's runtime: with an empty wheel cache it waits for
# `make test`'s background llama.cpp build, so this runs last with the other tests that do.
pytestmark = pytest.mark.local_model


def test_make_up_serves_and_is_idempotent(tmp_path: Path) -> None:
    port = free_port()
    env = environment(
        SWITCHBOARD_DATA_DIR=str(tmp_path / "data"),
        SWITCHBOARD_PORT=str(port),
        SWITCHBOARD_ACTOR="dana",
    )
    with running(["make", "up"], env, port) as client:
        assert client.get("/api/v1/teams").status_code == 401
        client.headers["Authorization"] = f"Bearer {api_token(env)}"
        assert client.get("/api/v1/teams").json() == ["default"]
        subprocess.run(
            ["switchboard", "publish", "examples/clock/server.json"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        first = client.get("/api/v1/servers").json()
    assert [s["slug"] for s in first] == ["clock"]
    assert (tmp_path / "data" / "switchboard.db").exists()
    key = (tmp_path / "data" / "secret.key").read_bytes()

    with running(["make", "up"], env, port) as client:
        client.headers["Authorization"] = f"Bearer {api_token(env)}"
        assert client.get("/api/v1/servers").json() == first
        assert client.get("/api/v1/teams").json() == ["default"]
    assert (tmp_path / "data" / "secret.key").read_bytes() == key
