"""What the egress proxy lets through: allowlisted host names that resolve to public addresses.

Standard library only: this module is copied into the proxy image and runs there.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressCheck = Callable[[IPAddress], "str | None"]
"""Returns why an address must not be connected to, or None when it may be."""

DEFAULT_PORTS = frozenset({80, 443})
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32) stay allowed on
# purpose: test environments route real hosts through them, and they are unroutable elsewhere.
_REFUSED_NETWORKS = {
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
    "reserved": ("0.0.0.0/8", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4", "100::/64"),
}
_NETWORKS = {
    reason: tuple(ipaddress.ip_network(net) for net in nets)
    for reason, nets in _REFUSED_NETWORKS.items()
}


@dataclass(frozen=True)
class AllowEntry:
    """One allowlist entry: an exact host name, and a port (None: 80 and 443)."""

    host: str
    port: int | None = None

    def permits(self, host: str, port: int) -> bool:
        if host != self.host:
            return False
        return port in DEFAULT_PORTS if self.port is None else port == self.port

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


def normalise_host(host: str) -> str:
    """Host names compare case-insensitively and without a trailing dot."""
    return host.strip().lower().removesuffix(".")


def is_ip_literal(host: str) -> bool:
    """True for any spelling the resolver would read as an address, `127.1` and `0x7f.1` too."""
    candidate = host.strip("[]").split("%", 1)[0]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        pass
    else:
        return True
    try:
        socket.inet_aton(candidate)
    except OSError:
        return False
    return True


def parse_entry(entry: str) -> AllowEntry:
    """Reads `host` or `host:port`; raises ValueError naming the entry and the fix."""
    text = entry.strip()
    if "://" in text or "/" in text:
        raise ValueError(f"egress entry {entry!r}: write a bare host name such as `pypi.org`")
    host, sep, port_text = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    host = normalise_host(host)
    if is_ip_literal(host) or ":" in host:
        raise ValueError(f"egress entry {entry!r}: IP addresses are never allowed; use a host name")
    if not _HOST_NAME.match(host):
        raise ValueError(f"egress entry {entry!r}: not a host name (exact names, no wildcards)")
    if not sep:
        return AllowEntry(host)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"egress entry {entry!r}: the port must be a number from 1 to 65535")
    return AllowEntry(host, int(port_text))


def parse_allowlist(entries: Iterable[str]) -> tuple[AllowEntry, ...]:
    """Parses every entry, dropping duplicates and keeping order."""
    return tuple(dict.fromkeys(parse_entry(entry) for entry in entries))


def target_refusal(host: str, port: int, allowlist: Iterable[AllowEntry]) -> str | None:
    """Why `host:port` may not be requested at all (before any DNS), or None."""
    if is_ip_literal(host):
        return f"{host} is an IP address; only allowlisted host names are reachable"
    name = normalise_host(host)
    if not any(entry.permits(name, port) for entry in allowlist):
        return f"{name}:{port} is not on this tool's egress allowlist"
    return None


def private_permitted(host: str, port: int, entries: Iterable[AllowEntry]) -> bool:
    """Whether the operator lets `host:port` resolve to private addresses (a company API).

    An entry without a port covers every port the tool's own allowlist permits.
    """
    name = normalise_host(host)
    return any(e.host == name and (e.port is None or e.port == port) for e in entries)


def address_refusal(address: IPAddress, *, private_ok: bool = False) -> str | None:
    """Why a resolved address must not be connected to, or None for a public address.

    `private_ok` lets the private and carrier-grade NAT ranges through, for names the operator
    allows; loopback, link-local (and so metadata), multicast and reserved addresses never pass.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or _nat64(address)
        if embedded is not None:
            reason = address_refusal(embedded, private_ok=private_ok)
            return f"{reason} (embedded in {address})" if reason else None
        if address.teredo is not None:
            return "a Teredo tunnel address"
    if address in _METADATA:
        return "a cloud metadata address"
    for reason, flag in (
        ("a loopback address", address.is_loopback),
        ("the unspecified address", address.is_unspecified),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
    ):
        if flag:
            return reason
    if address.version == 4 and address in _CGNAT and not private_ok:
        return "a carrier-grade NAT (100.64/10) address"
    for reason, networks in _NETWORKS.items():
        if reason == "private" and private_ok:
            continue
        if any(address in network for network in networks if network.version == address.version):
            return f"a {reason} address"
    if address.version == 6 and address.is_reserved:
        return "a reserved address"
    return None


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
