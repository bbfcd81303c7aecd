"""From a stored OpenAPI version to how its bridge sandbox starts: configuration, secrets,
image recipes, and the pins that keep the bridge's tool definitions byte-identical."""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Any

import pytest

from registry.models import Server, ServerKind, ServerVersion, Tool
from registry.openapi.credentials import accepted_credentials
from registry.openapi.servers import egress_entry
from sandboxes import launch
from sandboxes.bridges.openapi.config import SECRETS_VARIABLE, BridgeConfig, ConfigError
from sandboxes.discovery import launch_for
from sandboxes.images import recipes
from sandboxes.launch import LaunchError

OK = {"responses": {"204": {"description": "done"}}}
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "security": [{"key": []}],
    "components": {
        "securitySchemes": {
            "key": {"$ref": "#/components/x-schemes/key"},
            "token": {"type": "http", "scheme": "bearer"},
            "unused": {"type": "http", "scheme": "basic"},
        },
        "x-schemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
    },
    "paths": {
        "/a": {"get": OK, "post": {"security": [{"token": []}, {}], **OK}},
        "/b": {"$ref": "#/x-items/b"},
    },
    "x-items": {"b": {"delete": {"security": [], **OK}}},
}


def binding(method: str, path: str) -> dict[str, Any]:
    return {"method": method, "path": path, "parameters": [], "body": None, "baseUrl": "https://x"}


def row(name: str, method: str, path: str) -> Tool:
    return Tool(
        version_id=7,
        name=name,
        definition={"name": name, "inputSchema": {"type": "object"}},
        scopes=[],
        binding=binding(method, path),
    )


SERVER = Server(id=3, name="com.example/t", slug="t", kind=ServerKind.openapi, owner_team_id=1)
VERSION = ServerVersion(
    id=7,
    server_id=3,
    version="1",
    document=DOCUMENT,
    policy={"egress": ["x"], "secrets": ["key", "token", "unused"], "callTimeoutSeconds": 5},
    published_by_id=1,
)
ROWS = [row("remove", "DELETE", "/b"), row("read", "GET", "/a"), row("write", "POST", "/a")]


def test_every_alternative_comes_from_the_document() -> None:
    assert accepted_credentials(DOCUMENT, binding("GET", "/a")) == [["key"]]
    assert accepted_credentials(DOCUMENT, binding("POST", "/a")) == [["token"], []]
    assert accepted_credentials(DOCUMENT, binding("DELETE", "/b")) == []
    with pytest.raises(ValueError, match="no operation PUT /a"):
        accepted_credentials(DOCUMENT, binding("PUT", "/a"))


def test_launch_for_an_openapi_version_describes_its_bridge() -> None:
    target = launch_for(SERVER, VERSION, {"key": "k", "other": "o"}, ROWS)
    assert (target.key, target.name) == ("v7", "com.example/t@1")
    config = target.bridge
    assert config is not None
    assert [tool.name for tool in config.tools] == ["read", "remove", "write"]
    assert config.schemes == {
        "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
        "token": {"type": "http", "scheme": "bearer"},
    }
    assert config.timeout == 4.5
    assert config.server == "com.example/t"
    reordered = launch_for(SERVER, VERSION, {}, list(reversed(ROWS))).bridge
    assert reordered is not None
    assert reordered.dumps() == config.dumps(), "the image digest must not depend on row order"


def test_only_the_schemes_secrets_reach_the_bridge_in_one_variable() -> None:
    config = launch_for(SERVER, VERSION, {}, ROWS).bridge
    assert config is not None
    secrets = launch.bridge_secrets(config, {"key": "k", "unused": "u", "PATH": "/evil"})
    assert secrets == {SECRETS_VARIABLE: json.dumps({"key": "k"})}


def test_openapi_versions_need_their_tools() -> None:
    with pytest.raises(LaunchError, match="pass its stored tools"):
        launch_for(SERVER, VERSION, {})
    unbound = row("read", "GET", "/a")
    unbound.binding = None
    with pytest.raises(LaunchError, match="has no call binding"):
        launch_for(SERVER, VERSION, {}, [unbound])
    with pytest.raises(LaunchError, match="no operation GET /gone"):
        launch_for(SERVER, VERSION, {}, [row("gone", "GET", "/gone")])
    mcp = Server(id=4, name="com.example/m", slug="m", kind=ServerKind.mcp, owner_team_id=1)
    assert launch_for(mcp, VERSION, {}, ROWS).bridge is None


def test_bad_configuration_files_are_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="rebuild the version's image"):
        BridgeConfig.loads(b'{"server": "s", "tools": [{}]}')


def test_bridge_packages_are_pinned_to_what_switchboard_runs() -> None:
    pins = dict(requirement.split("==") for requirement in recipes.BRIDGE_REQUIREMENTS)
    assert pins == {"mcp": version("mcp"), "httpx": version("httpx")}
    dockerfile = recipes.openapi_bridge("base").dockerfile
    assert f"pip install mcp=={version('mcp')} httpx=={version('httpx')}" in dockerfile


def test_bridge_recipes_carry_the_sources_and_the_configuration() -> None:
    bridge = recipes.openapi_bridge("sha256:base")
    assert "src/sandboxes/bridges/openapi/server.py" in bridge.files
    assert bridge.files["src/sandboxes/__init__.py"] == b""
    assert "pip install mcp==" in bridge.dockerfile
    assert bridge.dockerfile.rstrip().endswith(
        'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/sb-entry"]'
    )
    one, other = recipes.bridged("sha256:b", b"{}"), recipes.bridged("sha256:b", b"{ }")
    assert one.digest() != other.digest()
    assert one.digest() == recipes.bridged("sha256:b", b"{}").digest()
    assert json.dumps(list(recipes.BRIDGE_COMMAND)) in one.dockerfile


@pytest.mark.parametrize(
    ("url", "entry"),
    [
        ("https://api.example.com/v1", "api.example.com"),
        ("https://api.example.com:443", "api.example.com"),
        ("http://api.example.com:80/x", "api.example.com"),
        ("http://tasks.corp.example.com:8081", "tasks.corp.example.com:8081"),
        ("https://API.example.com:8443", "api.example.com:8443"),
    ],
)
def test_imported_egress_keeps_a_non_default_port(url: str, entry: str) -> None:
    assert egress_entry(url) == entry
