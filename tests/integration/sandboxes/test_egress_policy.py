"""The egress allowlist and address rules, as pure functions (no network)."""

from __future__ import annotations

import ipaddress

import pytest

from sandboxes.egress.policy import (
    AllowEntry,
    address_refusal,
    parse_allowlist,
    parse_entry,
    target_refusal,
)


def test_entries_are_normalised_and_deduplicated() -> None:
    entries = parse_allowlist(["PyPI.org.", "pypi.org", "api.github.com:443"])
    assert entries == (AllowEntry("pypi.org"), AllowEntry("api.github.com", 443))
    assert [str(e) for e in entries] == ["pypi.org", "api.github.com:443"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("1.2.3.4", "IP addresses are never allowed"),
        ("127.1", "IP addresses are never allowed"),
        ("[::1]:443", "IP addresses are never allowed"),
        ("fd00::1", "IP addresses are never allowed"),
        ("https://pypi.org", "bare host name"),
        ("*.github.com", "exact names"),
        ("pypi.org:0", "port must be a number"),
        ("pypi.org:https", "port must be a number"),
    ],
)
def test_bad_entries_name_the_fix(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_entry(entry)


ALLOW = parse_allowlist(["pypi.org", "api.github.com:8443"])


@pytest.mark.parametrize(
    ("host", "port", "allowed"),
    [
        ("pypi.org", 443, True),
        ("PYPI.ORG.", 80, True),
        ("pypi.org", 8080, False),
        ("files.pythonhosted.org", 443, False),
        ("evil-pypi.org", 443, False),
        ("pypi.org.evil.com", 443, False),
        ("api.github.com", 8443, True),
        ("api.github.com", 443, False),
    ],
)
def test_target_needs_exact_name_and_port(host: str, port: int, allowed: bool) -> None:
    assert (target_refusal(host, port, ALLOW) is None) is allowed


@pytest.mark.parametrize("host", ["151.101.0.223", "[2a04:4e42::223]", "0x7f.1", "2130706433"])
def test_ip_literals_are_always_refused(host: str) -> None:
    assert "is an IP address" in (target_refusal(host, 443, ALLOW) or "")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.17.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12::1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "metadata"),
        ("2002:a00:1::", "private"),
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert reason in (address_refusal(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize("address", ["151.101.0.223", "2a04:4e42::223", "203.0.113.80"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None
