"""Egress networks with real containers: what a tool container can and cannot reach.

Each probe is a python3 one-liner in a throwaway base-image container on the egress network,
as hardened as a tool container (no capabilities, not root). Needs Docker and the base image.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from sandboxes.egress import EgressAttachment, EgressNetworks, proxy_environment
from sandboxes.images import ImageBuilder
from sandboxes.ownership import OWNER, PROCESS

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("egress")]  # module fixtures

BASE = "switchboard/base:latest"
DEFAULT_BRIDGE_GATEWAY = "172.17.0.1"
DIRECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=4)
    print("connected")
except OSError as e:
    print("failed", e)
"""
VIA_PROXY = """
import socket, sys
proxy, line = sys.argv[1], sys.argv[2]
s = socket.create_connection((proxy, 3128), timeout=10)
s.sendall(line.encode() + b" HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
data = b""
while b"\\r\\n\\r\\n" not in data or not data.startswith(b"HTTP/1.1 200"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
    if data.startswith(b"HTTP/1.1 200") and b"\\r\\n\\r\\n" in data:
        break
head, _, body = data.partition(b"\\r\\n\\r\\n")
print(head.split(b"\\r\\n")[0].decode(), "|", body.decode().strip())
"""
HTTPS_GET = """
import urllib.request
with urllib.request.urlopen("https://pypi.org/simple/", timeout=30) as r:
    print(r.status, len(r.read()))
"""


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    try:
        engine = docker.from_env()
        engine.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine: {exc}")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def networks(client: Any) -> Iterator[EgressNetworks]:
    """An owner of its own, so cleanup here never touches a running Switchboard's networks."""
    managed = EgressNetworks(client, owner=f"test-{uuid.uuid4().hex[:8]}")
    yield managed
    managed.remove_all()


@pytest.fixture(scope="module")
def attachment(networks: EgressNetworks) -> EgressAttachment:
    return networks.ensure(f"t{uuid.uuid4().hex[:8]}", ["pypi.org", "localhost"])


def run(client: Any, network: str, script: str, *args: str, proxy: str | None = None) -> str:
    """Runs a python3 script in a hardened throwaway container and returns its output."""
    environment = proxy_environment(EgressAttachment(network, proxy)) if proxy else {}
    container = client.containers.run(
        BASE,
        ["python3", "-c", script, *args],
        network=network,
        environment=environment,
        user="65534:65534",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        detach=True,
    )
    try:
        container.wait(timeout=90)
        return str(container.logs().decode().strip())
    finally:
        container.remove(force=True)


def proxy_host(attachment: EgressAttachment) -> str:
    return attachment.proxy_url.removeprefix("http://").rsplit(":", 1)[0]


@pytest.fixture
def host_listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP listener on the host, on every IPv4 address; records who got through."""
    server = socket.socket()
    server.bind(("0.0.0.0", 0))  # every IPv4 address: the point is to listen everywhere
    server.listen()
    server.settimeout(0.2)
    accepted: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, peer = server.accept()
            except TimeoutError:
                continue
            accepted.append(peer[0])
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_https_to_allowlisted_host_goes_through(client: Any, attachment: EgressAttachment) -> None:
    output = run(client, attachment.network, HTTPS_GET, proxy=attachment.proxy_url)
    assert output.startswith("200 "), output


@pytest.mark.parametrize(
    "line", ["CONNECT registry.npmjs.org:443", "GET http://files.pythonhosted.org/"]
)
def test_other_hosts_get_403(client: Any, attachment: EgressAttachment, line: str) -> None:
    output = run(client, attachment.network, VIA_PROXY, proxy_host(attachment), line)
    assert output.startswith("HTTP/1.1 403 Forbidden |"), output
    assert "not on this tool's egress allowlist" in output


def test_direct_connections_fail(client: Any, attachment: EgressAttachment) -> None:
    pypi = str(socket.getaddrinfo("pypi.org", 443, socket.AF_INET)[0][4][0])
    for host in ("pypi.org", pypi):
        output = run(client, attachment.network, DIRECT, host, "443")
        assert output.startswith("failed"), (host, output)
    assert run(client, "bridge", DIRECT, pypi, "443") == "connected"  # the probe works


def test_host_listeners_are_unreachable(
    client: Any, attachment: EgressAttachment, host_listener: tuple[int, list[str]]
) -> None:
    port, accepted = host_listener
    network = client.networks.get(attachment.network)
    gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
    for address in (gateway, DEFAULT_BRIDGE_GATEWAY):
        output = run(client, attachment.network, DIRECT, address, str(port))
        assert output.startswith("failed"), (address, output)
    proxy = proxy_host(attachment)
    for line, reason in [
        (f"CONNECT {DEFAULT_BRIDGE_GATEWAY}:{port}", "is an IP address"),
        (f"CONNECT {gateway}:{port}", "is an IP address"),
        (f"GET http://{DEFAULT_BRIDGE_GATEWAY}:{port}/", "is an IP address"),
        ("CONNECT localhost:443", "localhost resolves to 127.0.0.1, a loopback address"),
    ]:
        output = run(client, attachment.network, VIA_PROXY, proxy, line)
        assert output.startswith("HTTP/1.1 403 Forbidden |"), (line, output)
        assert reason in output
    assert accepted == []
    control = run(client, "bridge", DIRECT, DEFAULT_BRIDGE_GATEWAY, str(port))
    assert control == "connected", "the probe itself must work where nothing isolates it"


def test_metadata_address_is_refused(client: Any, attachment: EgressAttachment) -> None:
    proxy = proxy_host(attachment)
    for line in ("CONNECT 169.254.169.254:80", "GET http://169.254.169.254/latest/meta-data/"):
        output = run(client, attachment.network, VIA_PROXY, proxy, line)
        assert output.startswith("HTTP/1.1 403 Forbidden |"), output
    output = run(client, attachment.network, DIRECT, "169.254.169.254", "80")
    assert output.startswith("failed"), output


def test_refusals_are_logged_by_the_proxy(client: Any, attachment: EgressAttachment) -> None:
    run(client, attachment.network, VIA_PROXY, proxy_host(attachment), "CONNECT example.org:443")
    logs = client.containers.get(attachment.network).logs().decode()
    assert "egress refused example.org:443 for " in logs


def test_ensure_is_idempotent(client: Any, networks: EgressNetworks) -> None:
    key = f"t{uuid.uuid4().hex[:8]}"
    first = networks.ensure(key, ["pypi.org"])
    proxy_id = client.containers.get(first.network).id
    assert networks.ensure(key, ["PYPI.org"]) == first
    assert client.containers.get(first.network).id == proxy_id
    assert [n.name for n in client.networks.list(names=[first.network])] == [first.network]
    networks.ensure(key, ["pypi.org", "api.github.com:443"])  # a new allowlist: a new proxy
    assert client.containers.get(first.network).id != proxy_id
    networks.release(key)


def test_release_and_remove_all_leave_nothing(client: Any) -> None:
    owner = f"test-{uuid.uuid4().hex[:8]}"
    managed = EgressNetworks(client, owner=owner)
    kept, released = (managed.ensure(f"t{uuid.uuid4().hex[:8]}", ["pypi.org"]) for _ in "ab")
    tool = client.containers.run(BASE, ["sleep", "60"], network=released.network, detach=True)
    try:
        managed.release(released.network.removeprefix("sb-egress-"))
        managed.release(released.network.removeprefix("sb-egress-"))  # twice is fine
        names = {c.name for c in client.containers.list(all=True)}
        assert released.network not in names
        assert kept.network in names
        assert not client.networks.list(names=[released.network])
        managed.remove_all()
    finally:
        tool.remove(force=True)
    owned = {"label": [f"dev.switchboard.owner={owner}"]}
    assert client.containers.list(all=True, filters=owned) == []
    assert client.networks.list(filters=owned) == []


def test_leftovers_of_dead_processes_are_swept(docker_client: docker.DockerClient) -> None:
    """A crashed process's proxy and network go at the next start; a live process's stay."""
    ImageBuilder(docker_client).base()
    owner = f"sweep-{uuid.uuid4().hex[:8]}"
    dead = EgressNetworks(docker_client, owner=owner)
    dead._labels[PROCESS] = f"{socket.gethostname()}:999999999"
    dead.ensure("dead", ["pypi.org"])
    alive = EgressNetworks(docker_client, owner=owner)
    alive.ensure("alive", ["pypi.org"])
    try:
        alive.remove_leftovers()
        names = {n.name for n in docker_client.networks.list(filters={"label": f"{OWNER}={owner}"})}
        assert names == {"sb-egress-alive"}
    finally:
        alive.remove_all()
        dead.remove_all()
