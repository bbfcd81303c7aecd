"""The operator's private-address allowance: which names, which addresses, and what stays
refused whatever the operator writes."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import ValidationError

from sandboxes.egress.policy import address_refusal, parse_allowlist, private_permitted
from sandboxes.egress.proxy import EgressProxy, parse_args
from switchboard.settings import Settings

ALLOWED = parse_allowlist(["tasks.corp.example.com:8081", "wiki.corp.example.com"])


@pytest.mark.parametrize(
    ("host", "port", "permitted"),
    [
        ("tasks.corp.example.com", 8081, True),
        ("TASKS.corp.example.com.", 8081, True),
        ("tasks.corp.example.com", 443, False),
        ("wiki.corp.example.com", 443, True),
        ("wiki.corp.example.com", 8443, True),
        ("other.corp.example.com", 443, False),
    ],
)
def test_entries_name_hosts_and_optionally_ports(host: str, port: int, permitted: bool) -> None:
    assert private_permitted(host, port, ALLOWED) is permitted


@pytest.mark.parametrize(
    "address", ["10.1.2.3", "172.20.0.5", "192.168.1.1", "100.64.0.1", "fd12::1", "::ffff:10.0.0.1"]
)
def test_private_ranges_pass_only_when_allowed(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert address_refusal(ip) is not None
    assert address_refusal(ip, private_ok=True) is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "::1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
    ],
)
def test_loopback_link_local_and_metadata_never_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), private_ok=True) is not None


async def test_the_proxy_refuses_the_docker_host_even_for_allowed_names() -> None:
    _, _, settings = parse_args(
        [
            "--allow=tasks.corp.example.com:8081",
            "--private-allow=tasks.corp.example.com:8081",
            "--host-address=172.17.0.1",
        ],
        {},
    )
    proxy = EgressProxy(settings)
    refusal = proxy._refusal
    assert refusal(ipaddress.ip_address("172.18.0.2"), private_ok=True) is None
    assert refusal(ipaddress.ip_address("172.17.0.1"), private_ok=True) == (
        "an address of the Docker host"
    )
    assert refusal(ipaddress.ip_address("172.18.0.2"), private_ok=False) == "a private address"


def test_the_setting_is_a_comma_separated_list_of_host_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "SWITCHBOARD_EGRESS_PRIVATE_ALLOW", "Tasks.corp.example.com:8081, wiki.corp.example.com"
    )
    assert Settings().egress_private_allow == (
        "tasks.corp.example.com:8081",
        "wiki.corp.example.com",
    )
    monkeypatch.setenv("SWITCHBOARD_EGRESS_PRIVATE_ALLOW", "10.0.0.7:8080")
    with pytest.raises(ValidationError, match="IP addresses are never allowed"):
        Settings()
    monkeypatch.delenv("SWITCHBOARD_EGRESS_PRIVATE_ALLOW")
    assert Settings().egress_private_allow == ()
