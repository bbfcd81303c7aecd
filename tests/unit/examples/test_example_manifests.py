"""Every example MCP server ships a `server.json` that Switchboard accepts and that matches
the package it names."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from switchboard_example_calculator.server import create_server as calculator
from switchboard_example_clock.server import create_server as clock
from switchboard_example_pypi_info.server import create_server as pypi_info

from registry.manifest import SCHEMA_URL, parse_manifest
from registry.policy import POLICY_KEY

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SERVERS = {"clock": clock, "calculator": calculator, "pypi-info": pypi_info}
POLICY_KEYS = {
    "egress",
    "memoryMb",
    "cpus",
    "pidsLimit",
    "callTimeoutSeconds",
    "toolScopes",
    "secrets",
}


def manifest(folder: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EXAMPLES / folder / "server.json").read_text())
    return document


def project(folder: str) -> dict[str, Any]:
    with (EXAMPLES / folder / "pyproject.toml").open("rb") as file:
        table: dict[str, Any] = tomllib.load(file)["project"]
    return table


@pytest.mark.parametrize("folder", sorted(SERVERS))
def test_switchboard_accepts_the_manifest(folder: str) -> None:
    document = manifest(folder)
    parsed = parse_manifest(document, f"examples/{folder}/server.json")

    assert document["$schema"] == SCHEMA_URL
    assert document["name"] == f"dev.switchboard.examples/{folder}"
    assert document["version"] == "0.1.0"
    assert len(document["description"]) <= 100
    assert set(document["_meta"][POLICY_KEY]) <= POLICY_KEYS
    assert parsed.policy.cpus <= 1


@pytest.mark.parametrize("folder", sorted(SERVERS))
def test_the_manifest_names_its_own_distribution(folder: str) -> None:
    (package,) = manifest(folder)["packages"]
    metadata = project(folder)

    assert package["registryType"] == "pypi"
    assert package["identifier"] == metadata["name"] == f"switchboard-example-{folder}"
    assert package["version"] == metadata["version"]
    assert package["transport"] == {"type": "stdio"}
    assert metadata["name"] in metadata["scripts"]
    assert any(dep.startswith("mcp>=2.3") for dep in metadata["dependencies"])


@pytest.mark.parametrize("folder", sorted(SERVERS))
async def test_tool_scopes_name_real_tools(folder: str) -> None:
    server: MCPServer = SERVERS[folder]()
    async with Client(server) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}

    scopes = manifest(folder)["_meta"][POLICY_KEY].get("toolScopes", {})
    assert set(scopes) <= tools


def test_only_pypi_info_reaches_the_network() -> None:
    egress = {folder: manifest(folder)["_meta"][POLICY_KEY]["egress"] for folder in SERVERS}

    assert egress == {"clock": [], "calculator": [], "pypi-info": ["pypi.org"]}


def test_clock_shows_per_tool_scopes_and_calculator_has_none() -> None:
    assert manifest("clock")["_meta"][POLICY_KEY]["toolScopes"]
    assert not manifest("calculator")["_meta"][POLICY_KEY]["toolScopes"]


def test_pypi_info_declares_its_base_url_and_no_secrets() -> None:
    (package,) = manifest("pypi-info")["packages"]
    parsed = parse_manifest(manifest("pypi-info"), "examples/pypi-info/server.json")

    assert package["environmentVariables"] == [
        {
            "name": "PYPI_BASE_URL",
            "description": package["environmentVariables"][0]["description"],
            "isRequired": False,
            "isSecret": False,
            "format": "string",
            "default": "https://pypi.org/pypi",
        }
    ]
    assert parsed.secret_names == []


def test_the_clock_depends_on_tzdata() -> None:
    assert any(dep.startswith("tzdata") for dep in project("clock")["dependencies"])
