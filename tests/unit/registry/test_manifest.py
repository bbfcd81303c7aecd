import json
from pathlib import Path
from typing import Any

import pytest

from registry.errors import InvalidDocumentError
from registry.manifest import parse_manifest, read_manifest

FIXTURES = Path(__file__).parents[2] / "fixtures" / "manifests"


def problems(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidDocumentError) as caught:
        parse_manifest(document, "server.json")
    assert str(caught.value).startswith("server.json is not valid:")
    return {p.pointer: p.message for p in caught.value.problems}


def valid() -> dict[str, Any]:
    return json.loads((FIXTURES / "time.json").read_text())


@pytest.mark.parametrize("name", ["time.json", "github-remote.json", "npm-filesystem.json"])
def test_real_manifests_parse(name: str) -> None:
    parsed = read_manifest(FIXTURES / name)
    assert parsed.manifest.name.count("/") == 1
    assert parsed.document["version"] == parsed.manifest.version


def test_policy_defaults_and_values() -> None:
    parsed = read_manifest(FIXTURES / "time.json")
    assert parsed.policy.memory_mb == 128
    assert parsed.policy.egress == []
    assert parsed.policy.pids_limit == 64
    assert parsed.policy.tool_scopes == {"convert_time": ["time:convert"]}


def test_secret_names_come_from_is_secret_headers_and_policy() -> None:
    assert read_manifest(FIXTURES / "npm-filesystem.json").secret_names == ["BRAVE_API_KEY"]
    assert read_manifest(FIXTURES / "github-remote.json").secret_names == ["Authorization"]
    assert read_manifest(FIXTURES / "time.json").secret_names == []


def test_every_problem_is_reported_with_its_pointer() -> None:
    document = valid()
    document["name"] = "no-slash"
    document["description"] = "x" * 101
    document["packages"][0]["registryType"] = "nuget"
    document["packages"][0]["version"] = "latest"
    found = problems(document)
    assert "reverse-DNS" in found["/name"]
    assert "/description" in found
    assert "pypi" in found["/packages/0/registryType"]
    assert "exact version" in found["/packages/0/version"]


@pytest.mark.parametrize("version", ["^1.2.3", "~1.2", ">=1.0", "1.x", "1.*", "latest"])
def test_version_ranges_are_rejected(version: str) -> None:
    document = valid()
    document["version"] = version
    assert "exact version" in problems(document)["/version"]


def test_unknown_policy_fields_are_rejected() -> None:
    document = valid()
    document["_meta"]["dev.switchboard/policy"]["egres"] = ["pypi.org"]
    assert problems(document) == {
        "/_meta/dev.switchboard~1policy/egres": "unknown field; remove it or check its spelling"
    }


def test_unknown_package_fields_are_rejected_but_unknown_top_level_fields_kept() -> None:
    document = valid()
    document["icons"] = [{"src": "https://example.com/icon.png"}]
    assert parse_manifest(document, "x").document["icons"]
    document["packages"][0]["registry_type"] = "pypi"
    assert "/packages/0/registry_type" in problems(document)


def test_policy_secret_must_be_declared() -> None:
    document = valid()
    document["_meta"]["dev.switchboard/policy"]["secrets"] = ["NOPE"]
    message = problems(document)["/_meta/dev.switchboard~1policy/secrets/0"]
    assert "'NOPE' is not a declared environment variable" in message
    assert "TZ" in message


@pytest.mark.parametrize(
    ("egress", "expected"),
    [
        ("169.254.169.254", "IP address"),
        ("10.0.0.5", "IP address"),
        ("localhost", "fully qualified"),
        ("metadata.google.internal", "internal"),
        ("printer.local", "internal"),
        ("api.example.com:99999", "port"),
    ],
)
def test_egress_never_names_internal_hosts(egress: str, expected: str) -> None:
    document = valid()
    document["_meta"]["dev.switchboard/policy"]["egress"] = ["pypi.org", egress]
    assert expected in problems(document)["/_meta/dev.switchboard~1policy/egress/1"]


def test_limits_are_bounded() -> None:
    document = valid()
    document["_meta"]["dev.switchboard/policy"].update(memoryMb=1, cpus=0, callTimeoutSeconds=601)
    found = problems(document)
    assert set(found) == {
        "/_meta/dev.switchboard~1policy/memoryMb",
        "/_meta/dev.switchboard~1policy/cpus",
        "/_meta/dev.switchboard~1policy/callTimeoutSeconds",
    }


def test_something_to_run_is_required() -> None:
    document = valid()
    del document["packages"]
    assert "packages" in problems(document)[""]


def test_packages_run_over_stdio_and_remotes_over_streamable_http() -> None:
    document = valid()
    document["packages"][0]["transport"] = {"type": "streamable-http", "url": "http://x/mcp"}
    assert "stdio" in problems(document)["/packages/0/transport"]
    remote = json.loads((FIXTURES / "github-remote.json").read_text())
    remote["remotes"][0]["type"] = "sse"
    assert "deprecated" in problems(remote)["/remotes/0/type"]


def test_not_json_names_line_and_column() -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        parse_manifest(b'{"name": "a/b",\n  oops}', "bad.json")
    assert "line 2" in str(caught.value)
    assert "bad.json" in str(caught.value)


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidDocumentError, match=r"missing\.json"):
        read_manifest(tmp_path / "missing.json")
