"""Per server version, an internal network whose only way out is a hardened egress proxy.

Isolation: the network is `internal` (Docker drops its traffic to anywhere off the subnet) and
its bridge has no IPv4 address (`inhibit_ipv4`), so the gateway address answers nothing and a
container cannot reach the host's own listeners. Containers get no IPv6 and no external DNS on
it. The proxy sits on this network and on `bridge`, its way out, and refuses non-public targets
(the operator may let named hosts resolve to private addresses, never to the Docker host's).
Tool containers must keep `cap_drop=ALL`: with NET_ADMIN or NET_RAW a container can route or
craft packets to the host's addresses through the bridge, which still delivers them one way.
Bridges are named `sbe-*`, so `iptables -I INPUT -i sbe-+ -j DROP` on the host closes even that.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import docker

from sandboxes.egress.errors import EgressError
from sandboxes.egress.image import LABELS, ensure_proxy_image
from sandboxes.egress.policy import AllowEntry, parse_allowlist
from sandboxes.ownership import OWNER, PROCESS, left_behind, this_process

PROXY_PORT = 3128
OWNER_LABEL = OWNER
ALLOW_LABEL = "dev.switchboard.egress.allow"
PRIVATE_LABEL = "dev.switchboard.egress.private"
_KEY = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,47}$")
_READY_TIMEOUT = 20.0
_TMP = "/tmp"  # noqa: S108 - a private tmpfs inside the container, not the host's /tmp


@dataclass(frozen=True)
class EgressAttachment:
    """Join `network` and send all HTTP(S) through `proxy_url` (see `proxy_environment`)."""

    network: str
    proxy_url: str


def proxy_environment(attachment: EgressAttachment) -> dict[str, str]:
    """The variables that point common HTTP clients (curl, pip, npm, httpx) at the proxy."""
    url = attachment.proxy_url
    return {
        "HTTP_PROXY": url,
        "HTTPS_PROXY": url,
        "http_proxy": url,
        "https_proxy": url,
        "NO_PROXY": "",
        "no_proxy": "",
    }


class EgressNetworks:
    """Creates, reuses and removes egress networks and their proxies; safe across threads."""

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        base_image: str = "switchboard/base:latest",
        owner: str = "switchboard",
        private_allow: Sequence[str] = (),
        join_networks: Sequence[str] = (),
    ) -> None:
        """`private_allow`: the operator's `host[:port]` entries that may resolve to private
        addresses; each proxy gets those for hosts on its own allowlist, no others.
        `join_networks`: Docker networks every proxy joins besides the default bridge, where
        the operator's company APIs are reachable (the sandboxes themselves never join them)."""
        try:
            self._private_allow = parse_allowlist(private_allow)
        except ValueError as exc:
            raise EgressError(f"SWITCHBOARD_EGRESS_PRIVATE_ALLOW: {exc}") from exc
        self._client = client
        self._join_networks = tuple(join_networks)
        self._base_image = base_image
        self._owner_labels = {**LABELS, OWNER_LABEL: owner}
        self._labels = {**self._owner_labels, PROCESS: this_process()}
        self._lock = threading.Lock()

    def ensure(self, key: str, allowed: list[str]) -> EgressAttachment:
        """The network for `key`, with a running proxy for `allowed`; reused when unchanged."""
        name = _name(key)
        try:
            entries = parse_allowlist(allowed)
        except ValueError as exc:
            raise EgressError(str(exc)) from exc
        if not entries:
            raise EgressError("an empty egress allowlist needs no network; run with `network=none`")
        allow = ",".join(str(entry) for entry in entries)
        private = self._private_for(entries)
        with self._lock:
            image = ensure_proxy_image(self._client, self._base_image)
            self._network(name)
            self._proxy(name, image, allow, private)
        return EgressAttachment(name, f"http://{name}:{PROXY_PORT}")

    def _private_for(self, entries: tuple[AllowEntry, ...]) -> str:
        hosts = {entry.host for entry in entries}
        return ",".join(str(e) for e in self._private_allow if e.host in hosts)

    def release(self, key: str) -> None:
        """Removes the proxy and the network; containers still attached are disconnected."""
        name = _name(key)
        with self._lock:
            for container in self._find_containers(name):
                container.remove(force=True)
            for network in self._find_networks(name):
                _remove_network(network)

    def remove_leftovers(self) -> None:
        """Remove this owner's proxies and networks whose process on this host is gone."""
        owned = [f"{k}={v}" for k, v in self._owner_labels.items()]
        with self._lock:
            for container in self._client.containers.list(all=True, filters={"label": owned}):
                if left_behind(container.labels):
                    container.remove(force=True)
            for network in self._client.networks.list(filters={"label": owned}):
                if left_behind(network.attrs.get("Labels")):
                    _remove_network(network)

    def remove_all(self) -> None:
        """Removes every egress proxy and network this owner created (for shutdown and tests)."""
        with self._lock:
            for container in self._find_containers():
                container.remove(force=True)
            for network in self._find_networks():
                _remove_network(network)

    def _network(self, name: str) -> None:
        if self._find_networks(name):
            return
        if any(n.name == name for n in self._client.networks.list(names=[name])):
            raise EgressError(f"a network named {name} exists but is not ours; remove it first")
        bridge = "sbe-" + hashlib.sha256(name.encode()).hexdigest()[:11]
        self._client.networks.create(
            name,
            driver="bridge",
            internal=True,
            check_duplicate=True,
            labels=self._labels,
            options={
                "com.docker.network.bridge.inhibit_ipv4": "true",
                "com.docker.network.bridge.name": bridge,
            },
        )

    def _proxy(self, name: str, image: str, allow: str, private: str) -> None:
        labels = {**self._labels, ALLOW_LABEL: allow, PRIVATE_LABEL: private}
        for container in self._find_containers(name):
            current = all(
                container.labels.get(k) == labels[k] for k in (ALLOW_LABEL, PRIVATE_LABEL)
            )
            if current and container.image.tags == [image] and container.status == "running":
                return
            container.remove(force=True)  # allowlist or proxy changed, or it died: replace it
        endpoint = self._client.api.create_endpoint_config(aliases=[name])
        arguments = [f"--allow={entry}" for entry in allow.split(",")]
        if private:
            arguments += [f"--private-allow={entry}" for entry in private.split(",")]
            arguments += [f"--host-address={address}" for address in self._host_addresses()]
        container = self._client.containers.create(
            image,
            command=["--listen", f"{name}:{PROXY_PORT}", *arguments],
            name=name,
            labels=labels,
            user="65534:65534",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            read_only=True,
            tmpfs={_TMP: "rw,noexec,nosuid,nodev,size=16m"},
            mem_limit="128m",
            memswap_limit="128m",
            pids_limit=128,
            nano_cpus=500_000_000,
            init=True,
            restart_policy={"Name": "unless-stopped"},
            network=name,
            networking_config={name: endpoint},
        )
        for network in ("bridge", *self._join_networks):
            try:
                self._client.networks.get(network).connect(container)
            except docker.errors.NotFound:
                container.remove(force=True)
                raise EgressError(
                    f"SWITCHBOARD_EGRESS_NETWORKS names {network!r}, which is not a Docker "
                    "network on this engine; create it or remove it from the setting"
                ) from None
        container.start()
        _wait_ready(container)

    def _host_addresses(self) -> list[str]:
        """The Docker host's address on each of the engine's networks (their gateways)."""
        gateways = {
            str(config["Gateway"]).split("/")[0]
            for network in self._client.networks.list()
            for config in (network.attrs.get("IPAM") or {}).get("Config") or []
            if config.get("Gateway")
        }
        return sorted(gateways)

    def _find_containers(self, name: str | None = None) -> list[Any]:
        labels = [f"{k}={v}" for k, v in self._labels.items()]
        found = self._client.containers.list(all=True, filters={"label": labels})
        return [c for c in found if name is None or c.name == name]

    def _find_networks(self, name: str | None = None) -> list[Any]:
        labels = [f"{k}={v}" for k, v in self._labels.items()]
        found = self._client.networks.list(filters={"label": labels})
        return [n for n in found if name is None or n.name == name]


def _name(key: str) -> str:
    if not _KEY.match(key):
        raise EgressError(
            f"egress key {key!r} must be 1-48 letters, digits, `_`, `.` or `-` (e.g. `v42`)"
        )
    return f"sb-egress-{key}"


def _wait_ready(container: Any) -> None:
    """Waits for the proxy's `listening` line; a proxy that exits is reported with its log."""
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        logs = container.logs().decode(errors="replace")
        if "listening on" in logs:
            return
        container.reload()
        if container.status in {"exited", "dead"}:
            break
        time.sleep(0.1)
    logs = container.logs(tail=20).decode(errors="replace")
    container.remove(force=True)
    raise EgressError(f"egress proxy {container.name} did not start:\n{logs}")


def _remove_network(network: Any) -> None:
    try:
        network.reload()
        for container in network.containers:
            network.disconnect(container, force=True)
        network.remove()
    except docker.errors.NotFound:
        pass  # already gone: removal is idempotent
