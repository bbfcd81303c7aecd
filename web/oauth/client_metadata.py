"""Fetch an OAuth Client ID Metadata Document: a `client_id` that is the URL of its own metadata.

MCP authorization (2025-11-25) lets a client name itself by such a URL, so this server fetches
a URL an unauthenticated client chose. To keep that from reaching into this server's own network
(SSRF), every hop is checked before it is fetched: the URL, then every address its host resolves
to; the connection then goes to those checked addresses only, so a second DNS answer can never
be used (DNS rebinding). Time and size are capped, and no error message quotes the response body.
"""

from __future__ import annotations

import functools
import json
import re
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Annotated, Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import anyio
import anyio.to_thread
import httpcore
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, ValidationError

_IPAddress = IPv4Address | IPv6Address

_VISIBLE_ASCII = re.compile(r"[!-~]+")
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
_DEFAULT_PORTS = {"https": 443, "http": 80}
_IPV6_LOOPBACK = IPv6Address("::1")
_CLOUD_METADATA = frozenset({ip_address("169.254.169.254"), ip_address("fd00:ec2::254")})
_SHARED_ADDRESS_SPACE = ip_network("100.64.0.0/10")
_NAT64 = ip_network("64:ff9b::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SECRET_FIELDS = frozenset({"client_secret", "client_secret_expires_at"})
_TRANSPORT_ERRORS = (httpcore.NetworkError, httpcore.ProtocolError, httpcore.TimeoutException)
_SHOWN_CHARACTERS = 200
_PHRASES = {  # pydantic error types, as the end of a sentence that starts with the field
    "missing": "is required",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "too_short": "must not be empty",
}


class ClientMetadataError(Exception):
    """A client_id whose metadata cannot be used; the message is safe to show to that client."""


def _shown(text: str) -> str:
    """Quote text the client controls for a message, cut short so the message stays readable."""
    if len(text) > _SHOWN_CHARACTERS:
        text = text[:_SHOWN_CHARACTERS] + "..."
    return repr(text)


# The document


def _redirect_uri_problem(uri: str) -> str | None:
    """RFC 8252 redirect targets only: https, http to this device's loopback, or an app's scheme."""
    if not _VISIBLE_ASCII.fullmatch(uri):
        return "contains spaces, control or non-ASCII characters; percent-encode them"
    if "#" in uri:
        return "must not contain a fragment; remove the '#' part"
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "is not a valid URI; check the host and its brackets"
    if not parts.scheme:
        return "must be an absolute URI, like https://app.example/callback"
    if parts.scheme == "https" and not parts.hostname:
        return "must name a host, like https://app.example/callback"
    if parts.scheme == "http" and not _is_loopback_host(parts.hostname or ""):
        return "may use http only on a loopback host (127.0.0.1, [::1], localhost); use https"
    if parts.scheme not in _DEFAULT_PORTS and "." not in parts.scheme:
        return (
            f"uses the scheme {_shown(parts.scheme)}; use https, http on a loopback host, or an "
            "app's private-use scheme named after a domain, like com.example.app:/callback "
            "(RFC 8252)"
        )
    return None


def check_redirect_uri(uri: object) -> str:
    """The redirect URI if it is one this server may send an authorization code to.

    Shared with dynamic client registration, so both ways of naming a client obey one rule.
    """
    if not isinstance(uri, str):
        raise ClientMetadataError("a redirect URI must be a string")
    problem = _redirect_uri_problem(uri)
    if problem is not None:
        raise ClientMetadataError(f"the redirect URI {_shown(uri)} {problem}")
    return uri


def _redirect_uri(uri: str) -> str:
    problem = _redirect_uri_problem(uri)
    if problem is not None:
        raise ValueError(problem)
    return uri


def _web_url(url: str) -> str:
    """A page or image a consent screen may link to, so never a javascript: or data: URL."""
    parts = urlsplit(url) if _VISIBLE_ASCII.fullmatch(url) else None
    if parts is None or parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL, like https://app.example/")
    return url


def _public_client(method: str) -> str:
    """A metadata document is public, so it can never establish a shared secret."""
    if method.startswith("client_secret"):
        raise ValueError(
            f"{_shown(method)} needs a shared secret, which a public metadata document cannot "
            'establish; use "none" (a public client using PKCE)'
        )
    if method != "none":
        raise ValueError(f'{_shown(method)} is not accepted; only public clients ("none") are')
    return method


class ClientMetadataDocument(BaseModel):
    """The checked metadata of a client (RFC 7591 field names), plus the document as fetched.

    Defaults follow RFC 7591, except that a missing `token_endpoint_auth_method` means "none":
    its usual default, a client secret, cannot exist for a client named by a public document.
    """

    model_config = ConfigDict(frozen=True, strict=True)

    client_id: str
    client_name: str | None = None
    client_uri: Annotated[str, AfterValidator(_web_url)] | None = None
    logo_uri: Annotated[str, AfterValidator(_web_url)] | None = None
    redirect_uris: list[Annotated[str, AfterValidator(_redirect_uri)]] = Field(min_length=1)
    grant_types: list[str] = Field(default_factory=lambda: ["authorization_code"])
    response_types: list[str] = Field(default_factory=lambda: ["code"])
    token_endpoint_auth_method: Annotated[str, AfterValidator(_public_client)] = "none"  # noqa: S105
    scope: str | None = None
    raw: dict[str, JsonValue]


# URLs and addresses


@dataclass(frozen=True)
class _Target:
    """One URL to fetch, split the way the connection needs it."""

    url: str
    label: str  # how messages name it: "client_id '...'" or "the redirect target '...'"
    scheme: str
    host: str  # lower-case, IPv6 without brackets
    port: int
    netloc: str  # the Host header
    path_and_query: str
    literal: _IPAddress | None
    loopback_ok: bool


def _ip_literal(host: str) -> _IPAddress | None:
    try:
        return ip_address(host)
    except ValueError:
        return None


def _is_loopback_host(host: str) -> bool:
    """`localhost` or a plain loopback literal; an IPv6 form of 127.0.0.1 does not count."""
    literal = _ip_literal(host)
    if isinstance(literal, IPv4Address):
        return literal.is_loopback
    return host == "localhost" or literal == _IPV6_LOOPBACK


def _parse_target(url: str, *, allow_loopback_http: bool, what: str) -> _Target:
    """Check what a URL alone can tell, before any network access; `what` names it in messages."""
    label = f"{what} {_shown(url)}"
    if not _VISIBLE_ASCII.fullmatch(url):
        raise ClientMetadataError(
            f"{label} contains spaces, control or non-ASCII characters; "
            "percent-encode them and write an internationalized host name in its xn-- form"
        )
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        raise ClientMetadataError(f"{label} has an invalid host or port") from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise ClientMetadataError(f"{label} must be an https URL")
    if "@" in parts.netloc:
        raise ClientMetadataError(
            f"{label} must not contain a user name or password; remove the part up to '@'"
        )
    host = parts.hostname or ""
    literal = _ip_literal(host)
    if literal is None and not _HOST_NAME.fullmatch(host):
        raise ClientMetadataError(f"{label} has no valid host name")
    loopback_ok = allow_loopback_http and _is_loopback_host(host)
    if literal is not None:
        _refuse_non_public(f"{label}: its host {host} is", [literal], loopback_ok=loopback_ok)
    if parts.scheme == "http" and not loopback_ok:
        raise ClientMetadataError(
            f"{label} must use https; plain http is accepted only for localhost, "
            "127.0.0.1 or [::1], and only where this server allows loopback clients"
        )
    query = f"?{parts.query}" if parts.query else ""
    return _Target(
        url=url,
        label=label,
        scheme=parts.scheme,
        host=host,
        port=port,
        netloc=parts.netloc,
        path_and_query=(parts.path or "/") + query,
        literal=literal,
        loopback_ok=loopback_ok,
    )


def _parse_client_id(client_id: str, *, allow_loopback_http: bool) -> _Target:
    """The spec's client_id rules, on top of the rules every fetched URL follows."""
    target = _parse_target(client_id, allow_loopback_http=allow_loopback_http, what="client_id")
    path = urlsplit(client_id).path
    if "#" in client_id:
        raise ClientMetadataError(
            f"{target.label} must not contain a fragment; remove the '#' part"
        )
    if path in ("", "/"):
        raise ClientMetadataError(
            f"{target.label} needs a path to the document, like "
            "https://app.example/oauth/client.json"
        )
    if any(unquote(segment) in (".", "..") for segment in path.split("/")):
        raise ClientMetadataError(
            f"{target.label} must not contain '.' or '..' path segments; "
            "write the path without them"
        )
    return target


def _embedded_ipv4(address: _IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4): a connection lands there."""
    if isinstance(address, IPv4Address):
        return None
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.ipv4_mapped or address.sixtofour


def _address_problem(address: _IPAddress, *, loopback_ok: bool) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    if address in _CLOUD_METADATA:
        return "a cloud metadata address"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        problem = _address_problem(embedded, loopback_ok=False)
        return None if problem is None else f"an IPv6 form of {problem}"
    if address.is_loopback:
        return None if loopback_ok else "a loopback address"
    checks = (
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("the unspecified address", address.is_unspecified),
        ("a reserved address", address.is_reserved),
        ("a private address", address.is_private),
        ("a shared (carrier-grade NAT) address", address in _SHARED_ADDRESS_SPACE),
        ("a non-public address", not address.is_global),
    )
    return next((problem for problem, hit in checks if hit), None)


def _refuse_non_public(subject: str, addresses: Iterable[_IPAddress], *, loopback_ok: bool) -> None:
    for address in addresses:
        problem = _address_problem(address, loopback_ok=loopback_ok)
        if problem is not None:
            raise ClientMetadataError(
                f"{subject} {problem}; a client metadata document must be served from a public "
                "address"
            )


async def _checked_addresses(target: _Target) -> list[_IPAddress]:
    """Every address of the host, each checked: one non-public answer refuses the whole name.

    An IP literal was checked with the URL already, before any network access.
    """
    if target.literal is not None:
        return [target.literal]
    addresses = await _resolve(target)
    subject = f"{target.label}: its host {target.host} resolves to"
    _refuse_non_public(subject, addresses, loopback_ok=target.loopback_ok)
    return addresses


async def _resolve(target: _Target) -> list[_IPAddress]:
    try:
        answers = await anyio.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except OSError:
        raise ClientMetadataError(
            f"{target.label}: its host {target.host} could not be resolved; check its spelling "
            "and DNS records"
        ) from None
    return list(dict.fromkeys(ip_address(answer[4][0]) for answer in answers))


# HTTP


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system trust store with host name checks; built once, since building it reads files."""
    return ssl.create_default_context()


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the addresses checked beforehand, never to a fresh DNS answer.

    The connection still uses the URL's host name for the Host header, SNI and certificate check.
    """

    def __init__(self, addresses: Sequence[_IPAddress]) -> None:
        self._addresses = addresses
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure = httpcore.ConnectError(f"{host} has no address to connect to")
        for address in self._addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as error:
                failure = error
        raise failure


@dataclass(frozen=True)
class _Reply:
    location: str | None  # set for a redirect, whose body is never read
    body: bytes


async def _get(target: _Target, addresses: Sequence[_IPAddress], max_bytes: int) -> _Reply:
    """One GET over a connection pinned to the checked addresses."""
    tls = await anyio.to_thread.run_sync(_tls_context)
    scheme, host = target.scheme.encode(), target.host.encode()
    url = httpcore.URL(scheme=scheme, host=host, port=target.port, target=target.path_and_query)
    headers = [
        ("Host", target.netloc),
        ("Accept", "application/json"),
        ("Accept-Encoding", "identity"),
        ("User-Agent", "Switchboard (OAuth client metadata)"),
    ]
    connection = httpcore.AsyncHTTPConnection(
        httpcore.Origin(scheme, host, target.port),
        ssl_context=tls,
        network_backend=_PinnedBackend(addresses),
    )
    try:
        async with connection, connection.stream("GET", url, headers=headers) as response:
            return await _read_reply(target, response, max_bytes)
    except httpcore.ConnectError as error:
        raise ClientMetadataError(_connect_failure(target, error)) from error
    except _TRANSPORT_ERRORS as error:
        raise ClientMetadataError(
            f"reading {_shown(target.url)} failed: the server closed the connection or sent "
            "malformed HTTP"
        ) from error


def _connect_failure(target: _Target, error: httpcore.ConnectError) -> str:
    cause = error.__cause__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (
            f"the TLS certificate of {target.host} did not verify ({cause.verify_message}); "
            f"serve a certificate for {target.host} from a publicly trusted authority"
        )
    if isinstance(cause, ssl.SSLError):
        return f"the TLS handshake with {target.host} failed ({cause.reason}); check its TLS setup"
    return (
        f"could not connect to {target.host} on port {target.port}; check that the server is "
        "up and reachable from the internet"
    )


async def _read_reply(target: _Target, response: httpcore.Response, max_bytes: int) -> _Reply:
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in response.headers
    }
    if response.status in _REDIRECTS:
        if "location" not in headers:
            raise ClientMetadataError(
                f"{_shown(target.url)} answered HTTP {response.status} without a Location header"
            )
        return _Reply(location=headers["location"], body=b"")
    _check_response_headers(target, response.status, headers, max_bytes)
    return _Reply(location=None, body=await _read_capped(target, response, max_bytes))


def _check_response_headers(
    target: _Target, status: int, headers: dict[str, str], max_bytes: int
) -> None:
    where = _shown(target.url)
    if status != 200:
        raise ClientMetadataError(
            f"{where} answered HTTP {status}; serve the metadata document there with 200 OK"
        )
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ClientMetadataError(
            f"{where} is served as {_shown(media_type or 'no content type')}; serve it as "
            "application/json"
        )
    if headers.get("content-encoding", "identity").lower() != "identity":
        raise ClientMetadataError(f"{where} is compressed; serve it without Content-Encoding")
    length = headers.get("content-length", "0")
    if length.isdigit() and int(length) > max_bytes:
        raise _too_large(target, max_bytes)


async def _read_capped(target: _Target, response: httpcore.Response, max_bytes: int) -> bytes:
    """The body, refused as soon as it outgrows the limit, whatever Content-Length said."""
    body = bytearray()
    async for chunk in response.aiter_stream():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(target, max_bytes)
    return bytes(body)


def _too_large(target: _Target, max_bytes: int) -> ClientMetadataError:
    return ClientMetadataError(
        f"{_shown(target.url)} is larger than {max_bytes} bytes; keep the metadata document small"
    )


async def _fetch_body(
    first: _Target, *, allow_loopback_http: bool, max_bytes: int, max_redirects: int
) -> tuple[_Target, bytes]:
    """Follow redirects, each checked like the client_id itself, to the body of a 200 response."""
    target = first
    for _ in range(max_redirects + 1):
        reply = await _get(target, await _checked_addresses(target), max_bytes)
        if reply.location is None:
            return target, reply.body
        location = urldefrag(urljoin(target.url, reply.location)).url
        target = _parse_target(
            location, allow_loopback_http=allow_loopback_http, what="the redirect target"
        )
    raise ClientMetadataError(
        f"{_shown(first.url)} redirects more than {max_redirects} times; point client_id "
        "straight at the document"
    )


# Parsing and checking the document


class _RepeatedKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse repeated keys: parsers disagree about which one wins."""
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _RepeatedKey
    return document


def _parse_json(target: _Target, body: bytes) -> dict[str, Any]:
    where = _shown(target.url)
    try:
        document = json.loads(body, object_pairs_hook=_unique_keys)
    except _RepeatedKey:
        raise ClientMetadataError(f"the document at {where} repeats a key in an object") from None
    except (ValueError, RecursionError):
        raise ClientMetadataError(f"the document at {where} is not valid JSON") from None
    if not isinstance(document, dict):
        raise ClientMetadataError(f"the document at {where} must be a JSON object")
    return document


def _describe(error: ValidationError) -> str:
    """Pydantic's errors as `field[index] problem`, without echoing the values."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        field = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]
        ).lstrip(".")
        if item["type"] == "value_error":
            problems.append(f"{field} {item['ctx']['error']}")
        else:
            problems.append(f"{field} {_PHRASES.get(item['type'], 'is invalid: ' + item['msg'])}")
    return "; ".join(problems)


def _validate(target: _Target, document: dict[str, Any], client_id: str) -> ClientMetadataDocument:
    where = _shown(target.url)
    secrets = sorted(_SECRET_FIELDS & document.keys())
    if secrets:
        raise ClientMetadataError(
            f"the document at {where} carries {', '.join(secrets)}; a metadata document is "
            'public, so remove it and use token_endpoint_auth_method "none"'
        )
    try:
        metadata = ClientMetadataDocument.model_validate({**document, "raw": document})
    except ValidationError as error:
        raise ClientMetadataError(
            f"the document at {where} is invalid: {_describe(error)}"
        ) from None
    if metadata.client_id != client_id:
        raise ClientMetadataError(
            f"the document at {where} names a different client_id; set its client_id to "
            f"exactly {_shown(client_id)}, the URL it is fetched from"
        )
    return metadata


async def fetch_client_metadata(
    client_id: str,
    *,
    allow_loopback_http: bool = True,
    timeout: float = 5.0,  # noqa: ASYNC109 (one limit over the whole fetch, with redirects)
    max_bytes: int = 64 * 1024,
    max_redirects: int = 3,
) -> ClientMetadataDocument:
    """Fetch and check the metadata document a URL `client_id` names.

    `allow_loopback_http` admits `http://localhost`, `http://127.0.0.1` and `http://[::1]`
    (and https to them), for clients on this machine during development. `timeout` bounds the
    whole fetch, redirects included. Raises ClientMetadataError with a message for the client.
    """
    first = _parse_client_id(client_id, allow_loopback_http=allow_loopback_http)
    try:
        with anyio.fail_after(timeout):
            target, body = await _fetch_body(
                first,
                allow_loopback_http=allow_loopback_http,
                max_bytes=max_bytes,
                max_redirects=max_redirects,
            )
    except TimeoutError:
        raise ClientMetadataError(
            f"fetching {_shown(client_id)} took longer than {timeout:g} seconds; serve the "
            "document faster"
        ) from None
    return _validate(target, _parse_json(target, body), client_id)
