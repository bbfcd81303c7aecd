"""The README's first tour, run verbatim against a running server on both databases."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.e2e.conftest import ROOT, api_token, environment, free_port, running


def tour_script() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A first tour", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return block.group(1)


def test_readme_tour(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = environment(
        SWITCHBOARD_DATA_DIR=str(tmp_path / "data"),
        SWITCHBOARD_DATABASE_URL=database_url,
        SWITCHBOARD_PORT=str(port),
        USER="carol",
        TOKEN="tok-e2e-secret",
    )
    wheels = subprocess.run(["make", "wheelhouse"], cwd=ROOT, env=env, capture_output=True)
    assert wheels.returncode == 0, wheels.stderr
    with running(["switchboard", "serve"], env, port) as client:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", tour_script()],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        client.headers["Authorization"] = f"Bearer {api_token(env)}"
        assert "awaiting security review" in result.stdout
        assert "approved io.github" not in result.stdout

        tools = client.get("/api/v1/users/carol/tools").json()
        names = sorted(t["name"] for t in tools)
        assert names, result.stdout
        assert all(name.startswith("tasks.") for name in names)
        read_only = [t for t in tools if t.get("annotations", {}).get("readOnlyHint")]
        assert read_only == tools  # granted tasks:read only: no tool that writes is visible
        secrets = client.get("/api/v1/servers/tasks/secrets").json()
        assert {"name": "oauth2", "stored": True} in secrets
        servers = {s["slug"]: s for s in client.get("/api/v1/servers").json()}
        assert servers["clock"]["versions"][0]["status"] == "pending"
        assert servers["tasks"]["versions"][0]["live"] is True
    assert (
        "tok-e2e-secret"
        not in (tmp_path / "data")
        .joinpath("..")
        .resolve()
        .joinpath(f"server-{port}.log")
        .read_text()
    )
