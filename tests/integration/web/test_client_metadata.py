"""Client ID metadata documents fetched from real HTTP servers on 127.0.0.1, and the URL and
address rules that refuse a client_id before any network access."""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from web.oauth.client_metadata import (
    ClientMetadataDocument,
    ClientMetadataError,
    check_redirect_uri,
    fetch_client_metadata,
)

JSON = {"Content-Type": "application/json"}


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    body: bytes = b""
    content_length: bool = True  # without it the body ends when the connection closes
    trickle: bool = False  # send the body a byte at a time, slowly


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status=status, headers={"Location": location})


class Site:
    """A real HTTP/1.1 server on 127.0.0.1 that answers each path with a canned reply."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.replies: dict[str, Reply] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.port = 0
        self._tls = tls
        self._handlers: set[asyncio.Task[None]] = set()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}{path}"

    def document(self, path: str, host: str = "127.0.0.1", **fields: object) -> str:
        """Serve a valid document at `path`, with `fields` changed, and return its URL."""
        url = self.url(path, host)
        document = {
            "client_id": url,
            "client_name": "Test client",
            "redirect_uris": ["http://127.0.0.1:33418/callback"],
            "token_endpoint_auth_method": "none",
            **fields,
        }
        self.replies[path] = Reply(body=json.dumps(document).encode())
        return url

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Site]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._tls)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for task in self._handlers:
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.split("\r\n")
            path = request_line.split(" ")[1]
            headers = dict(line.split(": ", 1) for line in lines if line)
            self.requests.append((path, {name.lower(): value for name, value in headers.items()}))
            await self._send(writer, self.replies.get(path, Reply(404, body=b"{}")))
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client hung up, as it should when it refuses a reply
        finally:
            writer.close()
            with suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
            self._handlers.discard(task)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, reply: Reply) -> None:
        head = [f"HTTP/1.1 {reply.status} Canned", "Connection: close"]
        head += [f"{name}: {value}" for name, value in reply.headers.items()]
        if reply.content_length:
            head.append(f"Content-Length: {len(reply.body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if not reply.trickle:
            writer.write(reply.body)
            await writer.drain()
            return
        for byte in reply.body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with Site().running() as running:
        yield running


async def refused(client_id: str, **options: Any) -> str:
    with pytest.raises(ClientMetadataError) as raised:
        await fetch_client_metadata(client_id, **options)
    return str(raised.value)


# A good document


async def test_a_good_document_over_loopback_http(site: Site) -> None:
    url = site.document("/oauth/client.json", client_uri="https://app.example/", scope="mcp")

    document = await fetch_client_metadata(url)

    assert isinstance(document, ClientMetadataDocument)
    assert document.client_id == url
    assert document.client_name == "Test client"
    assert document.client_uri == "https://app.example/"
    assert document.redirect_uris == ["http://127.0.0.1:33418/callback"]
    assert document.grant_types == ["authorization_code"]
    assert document.response_types == ["code"]
    assert document.token_endpoint_auth_method == "none"
    assert document.scope == "mcp"
    assert document.raw["client_id"] == url
    with pytest.raises(pydantic.ValidationError):
        document.client_id = "https://elsewhere.example/client.json"  # type: ignore[misc]
    path, headers = site.requests[0]
    assert path == "/oauth/client.json"
    assert headers["host"] == f"127.0.0.1:{site.port}"
    assert headers["accept-encoding"] == "identity"


async def test_a_host_name_is_sent_as_the_host_header(site: Site) -> None:
    url = site.document("/client.json", host="localhost")

    document = await fetch_client_metadata(url)

    assert document.client_id == url
    assert site.requests[0][1]["host"] == f"localhost:{site.port}"


async def test_redirects_are_followed_and_the_original_url_is_the_client_id(site: Site) -> None:
    original = site.url("/client")
    site.replies["/client"] = redirect("/moved", 301)
    site.replies["/moved"] = redirect(site.url("/client.json#ignored", host="localhost"), 307)
    site.document("/client.json", client_id=original)

    document = await fetch_client_metadata(original)

    assert document.client_id == original
    assert [path for path, _ in site.requests] == ["/client", "/moved", "/client.json"]


async def test_accepted_redirect_uri_kinds(site: Site) -> None:
    uris = [
        "https://app.example/callback?x=1",
        "http://127.0.0.1/callback",
        "http://[::1]:8123/callback",
        "http://localhost:8123/callback",
        "com.example.app:/oauth2redirect",
    ]
    url = site.document("/client.json", redirect_uris=uris)
    assert (await fetch_client_metadata(url)).redirect_uris == uris


# Refused replies


async def test_an_oversized_document_is_refused_by_its_content_length(site: Site) -> None:
    url = site.document("/big.json", client_name="x" * 70_000)
    assert "is larger than 65536 bytes" in await refused(url)


async def test_an_oversized_document_without_length_is_cut_off_while_streaming(
    site: Site,
) -> None:
    url = site.document("/big.json", client_name="x" * 5_000)
    site.replies["/big.json"].content_length = False
    assert "is larger than 4096 bytes" in await refused(url, max_bytes=4096)
    assert (await fetch_client_metadata(url, max_bytes=8192)).client_id == url


async def test_a_slow_document_runs_into_the_time_limit(site: Site) -> None:
    url = site.document("/slow.json")
    site.replies["/slow.json"].trickle = True
    started = time.monotonic()
    message = await refused(url, timeout=0.5)
    assert "took longer than 0.5 seconds" in message
    assert time.monotonic() - started < 2


async def test_a_redirect_loop_stops_after_max_redirects(site: Site) -> None:
    site.replies["/loop"] = redirect("/loop")
    assert "redirects more than 3 times" in await refused(site.url("/loop"))
    assert len(site.requests) == 4


async def test_max_redirects_zero_refuses_any_redirect(site: Site) -> None:
    site.replies["/client"] = redirect("/client.json")
    site.document("/client.json", client_id=site.url("/client"))
    assert "redirects more than 0 times" in await refused(site.url("/client"), max_redirects=0)


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "is a cloud metadata address"),
        ("https://169.254.169.254/latest/meta-data/", "is a cloud metadata address"),
        ("https://[fd00:ec2::254]/latest/", "is a cloud metadata address"),
        ("https://10.1.2.3/internal", "is a private address"),
        ("http://app.example/client.json", "must use https"),
        ("https://user:secret@app.example/client.json", "user name or password"),
        ("file:///etc/passwd", "must be an https URL"),
    ],
)
async def test_redirects_are_checked_like_the_client_id(
    site: Site, location: str, reason: str
) -> None:
    site.replies["/client"] = redirect(location)
    message = await refused(site.url("/client"))
    assert "redirect target" in message
    assert reason in message
    assert len(site.requests) == 1


async def test_the_document_must_name_its_own_url(site: Site) -> None:
    url = site.document("/client.json", client_id="https://app.example/client.json")
    message = await refused(url)
    assert "names a different client_id" in message
    assert f"exactly '{url}'" in message
    assert "app.example" not in message


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(body=b"<html>not json</html>"), "is not valid JSON"),
        (Reply(body=b"[" * 20_000), "is not valid JSON"),
        (Reply(body=b'["a", "list"]'), "must be a JSON object"),
        (Reply(body=b'{"client_id": "x"}'), "is invalid: redirect_uris is required"),
        (Reply(body=b'{"client_id": "a", "client_id": "b"}'), "repeats a key"),
        (Reply(headers={"Content-Type": "text/html"}, body=b"{}"), "served as 'text/html'"),
        (Reply(headers={}, body=b"{}"), "served as 'no content type'"),
        (Reply(headers={**JSON, "Content-Encoding": "gzip"}, body=b"{}"), "is compressed"),
        (Reply(status=404, body=b"{}"), "answered HTTP 404"),
        (Reply(status=302, headers={}), "without a Location header"),
    ],
)
async def test_replies_that_are_not_a_json_document(site: Site, reply: Reply, reason: str) -> None:
    site.replies["/client.json"] = reply
    message = await refused(site.url("/client.json"))
    assert reason in message
    assert "not json" not in message


async def test_a_problem_json_content_type_is_json(site: Site) -> None:
    url = site.document("/client.json")
    site.replies["/client.json"].headers = {"Content-Type": "application/vnd.test+json; v=1"}
    assert (await fetch_client_metadata(url)).client_id == url


@pytest.mark.parametrize(
    ("redirect_uris", "reason"),
    [
        ([], "redirect_uris must not be empty"),
        ("https://app.example/cb", "redirect_uris must be a list"),
        ([5], "redirect_uris[0] must be a string"),
        (["javascript:alert(1)"], "redirect_uris[0] uses the scheme 'javascript'"),
        (["data:text/html,hi"], "redirect_uris[0] uses the scheme 'data'"),
        (["file:///etc/passwd"], "redirect_uris[0] uses the scheme 'file'"),
        (["https://ok.example/cb", "http://app.example/cb"], "redirect_uris[1] may use http only"),
        (["https://app.example/cb#top"], "redirect_uris[0] must not contain a fragment"),
        (["/callback"], "redirect_uris[0] must be an absolute URI"),
        (["https:///callback"], "redirect_uris[0] must name a host"),
        (["https://app.example/a b"], "redirect_uris[0] contains spaces"),
    ],
)
async def test_bad_redirect_uris(site: Site, redirect_uris: object, reason: str) -> None:
    url = site.document("/client.json", redirect_uris=redirect_uris)
    assert reason in await refused(url)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"token_endpoint_auth_method": "client_secret_basic"}, "needs a shared secret"),
        ({"token_endpoint_auth_method": "client_secret_post"}, "needs a shared secret"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, 'only public clients ("none")'),
        ({"client_secret": "hunter2"}, "carries client_secret;"),
        ({"client_name": 5}, "client_name must be a string"),
        ({"logo_uri": "javascript:alert(1)"}, "logo_uri must be an absolute http(s) URL"),
        ({"client_uri": "data:text/html,hi"}, "client_uri must be an absolute http(s) URL"),
        ({"grant_types": "authorization_code"}, "grant_types must be a list"),
        ({"scope": ["mcp"]}, "scope must be a string"),
        ({"client_id": None}, "client_id must be a string"),
        ({"client_id": None, "redirect_uris": None}, "client_id must be a string; redirect_uris"),
        ({"grant_types": ["authorization_code", 1]}, "grant_types[1] must be a string"),
    ],
)
async def test_bad_fields_are_named(site: Site, fields: dict[str, Any], reason: str) -> None:
    url = site.document("/client.json", **fields)
    message = await refused(url)
    assert reason in message
    assert "hunter2" not in message


async def test_a_missing_auth_method_means_a_public_client(site: Site) -> None:
    url = site.document("/client.json")
    document = json.loads(site.replies["/client.json"].body)
    del document["token_endpoint_auth_method"]
    site.replies["/client.json"].body = json.dumps(document).encode()
    assert (await fetch_client_metadata(url)).token_endpoint_auth_method == "none"


# Connections


async def test_a_closed_port_is_a_connect_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    message = await refused(f"http://127.0.0.1:{port}/client.json")
    assert f"could not connect to 127.0.0.1 on port {port}" in message


def self_signed(directory: Path) -> ssl.SSLContext:
    """A server context for `localhost` whose certificate no trust store knows."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


async def test_https_verifies_the_certificate_against_the_host_name(tmp_path: Path) -> None:
    async with Site(tls=self_signed(tmp_path)).running() as tls_site:
        url = tls_site.document("/client.json", host="localhost")
        message = await refused(url)
    assert "the TLS certificate of localhost did not verify (self-signed certificate)" in message


# Rules checked before any network access


@pytest.mark.parametrize(
    ("client_id", "reason"),
    [
        ("http://app.example/client.json", "must use https"),
        ("ftp://app.example/client.json", "must be an https URL"),
        ("app.example/client.json", "must be an https URL"),
        ("https://10.0.0.1/x", "is a private address"),
        ("https://192.168.1.1/x", "is a private address"),
        ("https://[::ffff:127.0.0.1]/x", "is an IPv6 form of a loopback address"),
        ("https://[::ffff:10.0.0.1]/x", "is an IPv6 form of a private address"),
        ("https://[64:ff9b::a9fe:a9fe]/x", "is an IPv6 form of a cloud metadata address"),
        ("https://169.254.169.254/x", "is a cloud metadata address"),
        ("https://[fd00:ec2::254]/x", "is a cloud metadata address"),
        ("https://169.254.1.1/x", "is a link-local address"),
        ("https://[fe80::1]/x", "is a link-local address"),
        ("https://100.64.0.1/x", "is a shared (carrier-grade NAT) address"),
        ("https://224.0.0.1/x", "is a multicast address"),
        ("https://0.0.0.0/x", "is the unspecified address"),
        ("https://[::]/x", "is the unspecified address"),
        ("https://240.0.0.1/x", "is a reserved address"),
        ("https://[fc00::1]/x", "is a private address"),
        ("https://user:password@app.example/x", "must not contain a user name or password"),
        ("https://user@app.example/x", "must not contain a user name or password"),
        ("https://app.example/x#fragment", "must not contain a fragment"),
        ("https://app.example/x#", "must not contain a fragment"),
        ("https://app.example", "needs a path"),
        ("https://app.example/", "needs a path"),
        ("https://app.example/a/../client.json", "'.' or '..' path segments"),
        ("https://app.example/./client.json", "'.' or '..' path segments"),
        ("https://app.example/a/%2e%2E/client.json", "'.' or '..' path segments"),
        ("https://app.example:99999/x", "has an invalid host or port"),
        ("https://[::1/x", "has an invalid host or port"),
        ("https://app example/x", "contains spaces"),
        ("https://exämple.com/x", "non-ASCII"),
        ("https://app$example/x", "has no valid host name"),
    ],
)
async def test_client_id_rules(client_id: str, reason: str) -> None:
    message = await refused(client_id)
    assert reason in message
    assert message.startswith(f"client_id {client_id[:200]!r}")


async def test_loopback_is_refused_when_it_is_not_allowed() -> None:
    message = await refused("http://127.0.0.1:8080/client.json", allow_loopback_http=False)
    assert "its host 127.0.0.1 is a loopback address" in message
    message = await refused("http://localhost:8080/client.json", allow_loopback_http=False)
    assert "must use https" in message
    message = await refused("https://[::1]/client.json", allow_loopback_http=False)
    assert "client_id 'https://[::1]/client.json': its host ::1 is a loopback address" in message


async def test_a_name_resolving_to_a_loopback_address_is_refused() -> None:
    message = await refused("https://localhost/client.json", allow_loopback_http=False)
    assert message == (
        "client_id 'https://localhost/client.json': its host localhost resolves to a loopback "
        "address; a client metadata document must be served from a public address"
    )


async def test_a_name_that_does_not_resolve() -> None:
    assert "its host name.invalid could not be resolved" in await refused(
        "https://name.invalid/client.json"
    )


async def test_long_urls_are_cut_short_in_messages() -> None:
    message = await refused("ftp://app.example/" + "x" * 5000)
    assert len(message) < 300


def test_check_redirect_uri_is_the_same_rule_for_registration() -> None:
    assert check_redirect_uri("com.example.app:/cb") == "com.example.app:/cb"
    with pytest.raises(ClientMetadataError, match="uses the scheme 'javascript'"):
        check_redirect_uri("javascript:alert(1)")
    with pytest.raises(ClientMetadataError, match="must be a string"):
        check_redirect_uri(["https://app.example/cb"])
