"""Where Switchboard connects for a remote MCP server, and the headers it sends there."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

import httpx2
import pytest

from registry.manifest import Remote
from sandboxes.egress.policy import parse_allowlist
from sandboxes.launch import LaunchError
from toolhost.remote_egress import CheckedTransport, RemoteEgress, RemoteRefusedError, tls_context
from toolhost.remotes import is_remote, remote_headers

STRICT = RemoteEgress()
DEVELOPMENT = RemoteEgress(allow_loopback=True)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mcp.example.com/mcp", "must use https"),
        ("ftp://mcp.example.com/mcp", "absolute https URL"),
        ("https:///mcp", "absolute https URL"),
        ("https://user:pw@mcp.example.com/mcp", "user name or password"),
        ("https://mcp.example.com:99999/mcp", "invalid host or port"),
        ("https://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("https://10.1.2.3/mcp", "private"),
        ("https://[::ffff:127.0.0.1]/mcp", "loopback"),
        ("https://127.0.0.1/mcp", "loopback"),
        ("http://127.0.0.1:8080/mcp", "must use https"),
        ("https://0.0.0.0/mcp", "unspecified"),
    ],
)
def test_urls_that_could_reach_internal_hosts_are_refused(url: str, problem: str) -> None:
    with pytest.raises(RemoteRefusedError, match=problem):
        STRICT.check_url(url)


def test_public_https_urls_pass_and_loopback_only_in_development() -> None:
    assert STRICT.check_url("https://MCP.example.com/mcp") == ("mcp.example.com", 443)
    assert DEVELOPMENT.check_url("http://127.0.0.1:8080/mcp") == ("127.0.0.1", 8080)
    assert DEVELOPMENT.check_url("http://localhost:8080/mcp") == ("localhost", 8080)
    for url in ("http://mcp.example.com/mcp", "https://10.1.2.3/mcp", "http://[::ffff:7f00:1]/"):
        with pytest.raises(RemoteRefusedError):
            DEVELOPMENT.check_url(url)


def test_the_operators_allowlist_admits_private_addresses_of_named_hosts_only() -> None:
    egress = RemoteEgress(private_allow=parse_allowlist(["mcp.corp.example", "wiki.corp:8443"]))
    private, loopback = ip_address("10.0.0.5"), ip_address("127.0.0.1")
    assert egress.refusal("mcp.corp.example", 443, private) is None
    assert egress.refusal("wiki.corp", 8443, private) is None
    assert egress.refusal("wiki.corp", 443, private) == "a private address"
    assert egress.refusal("other.corp.example", 443, private) == "a private address"
    assert egress.refusal("mcp.corp.example", 443, loopback) == "a loopback address"
    metadata = ip_address("169.254.169.254")
    assert egress.refusal("mcp.corp.example", 443, metadata) == "a cloud metadata address"


async def test_every_address_a_name_resolves_to_is_checked() -> None:
    with pytest.raises(RemoteRefusedError, match=r"localhost resolves to 127\.0\.0\.1"):
        await STRICT.addresses("localhost", 443)
    assert ip_address("127.0.0.1") in await DEVELOPMENT.addresses("localhost", 443)
    with pytest.raises(RemoteRefusedError, match="could not be resolved"):
        await STRICT.addresses("no-such-host.invalid", 443)


async def test_the_transport_itself_refuses_a_name_that_resolves_to_loopback() -> None:
    """Every connection is checked when it is opened, whatever was checked before."""
    transport = CheckedTransport(STRICT, await tls_context())
    async with httpx2.AsyncClient(transport=transport) as http:
        with pytest.raises(httpx2.ConnectError, match=r"resolves to 127\.0\.0\.1"):
            await http.get("https://localhost:9/mcp")


def remote(*headers: dict[str, Any]) -> Remote:
    return Remote.model_validate(
        {"type": "streamable-http", "url": "https://mcp.example.com/mcp", "headers": headers}
    )


def test_secret_headers_carry_their_stored_value_and_plain_ones_the_manifests() -> None:
    declared = remote(
        {"name": "Authorization", "isSecret": True, "isRequired": True},
        {"name": "X-Api-Key", "isSecret": True},
        {"name": "X-Client", "value": "switchboard"},
        {"name": "X-Region", "default": "eu"},
        {"name": "X-Optional"},
    )
    assert remote_headers(declared, {"Authorization": "Bearer k"}) == {
        "Authorization": "Bearer k",
        "X-Client": "switchboard",
        "X-Region": "eu",
    }


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ({"name": "Authorization", "isSecret": True, "isRequired": True}, "not stored"),
        ({"name": "X-Token", "isRequired": True}, "no `value` or `default`"),
        ({"name": "Authorization", "value": "Bearer {token}"}, "does not fill in"),
        ({"name": "Host", "value": "internal.example"}, "belong to the MCP transport"),
        ({"name": "Mcp-Session-Id", "value": "x"}, "belong to the MCP transport"),
        ({"name": "Bad Name", "value": "x"}, "cannot be set"),
        ({"name": "X-Split", "value": "a\r\nX-Injected: b"}, "line break"),
    ],
)
def test_headers_switchboard_cannot_send_are_errors(header: dict[str, Any], problem: str) -> None:
    with pytest.raises(LaunchError, match=problem):
        remote_headers(remote(header), {})


def test_a_secret_value_never_appears_in_a_header_error() -> None:
    with pytest.raises(LaunchError) as refused:
        remote_headers(
            remote({"name": "Authorization", "isSecret": True}), {"Authorization": "s\n"}
        )
    assert "s\n" not in str(refused.value)


def test_manifest_versions_without_a_package_run_as_their_remote() -> None:
    remotes = {"remotes": [{"type": "streamable-http", "url": "https://x.example"}]}
    assert is_remote("mcp", remotes)
    assert not is_remote("mcp", {"packages": [{"identifier": "p"}], **remotes})
    assert not is_remote("mcp", {"packages": [{"identifier": "p"}]})
    assert not is_remote("openapi", {"openapi": "3.1.0", **remotes}), "only manifests have remotes"
