"""Publishing through the API: the version is `building` at once, then discovered in the
background by the running service."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
import pytest

from switchboard.settings import Settings

pytestmark = pytest.mark.docker

ROOT = Path(__file__).parents[3]


@pytest.fixture
def settings(tmp_path: Path, database_url: str, wheelhouse: Path, owner: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        wheelhouse=wheelhouse,
        sandbox_owner=owner,
    )


async def test_api_publish_discovers_in_the_background(client: httpx.AsyncClient) -> None:
    manifest = json.loads((ROOT / "examples" / "calculator" / "server.json").read_text())
    published = await client.post("/api/v1/servers", json=manifest)
    assert published.status_code == 201, published.text
    assert published.json()["status"] == "building"
    version = f"/api/v1/servers/calculator/versions/{manifest['version']}"
    with anyio.fail_after(300):
        while (detail := (await client.get(version)).json())["status"] == "building":
            await anyio.sleep(0.5)
    assert detail["status"] == "pending", detail.get("build_log")
    assert {"evaluate", "convert_units"} <= {t["name"] for t in detail["tools"]}
    assert detail["tools_digest"].startswith("sha256:")
