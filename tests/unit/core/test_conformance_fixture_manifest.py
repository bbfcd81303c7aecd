"""The conformance fixture ships a `server.json` Switchboard accepts, naming its own distribution,
so it can be published like any packaged server once its wheel is in the wheelhouse."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from registry.manifest import SCHEMA_URL, parse_manifest

FIXTURE = Path(__file__).parents[2] / "fixtures" / "conformance_server"


def test_switchboard_accepts_the_fixture_manifest_and_it_names_the_fixture() -> None:
    document: dict[str, Any] = json.loads((FIXTURE / "server.json").read_text())
    with (FIXTURE / "pyproject.toml").open("rb") as file:
        project: dict[str, Any] = tomllib.load(file)["project"]

    parse_manifest(document, "tests/fixtures/conformance_server/server.json")
    (package,) = document["packages"]

    assert document["$schema"] == SCHEMA_URL
    assert document["version"] == project["version"] == package["version"]
    assert package["registryType"] == "pypi"
    assert package["identifier"] == project["name"] == "switchboard-conformance-fixture"
    assert package["transport"] == {"type": "stdio"}
    assert project["name"] in project["scripts"]
