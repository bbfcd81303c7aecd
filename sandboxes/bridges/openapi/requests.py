"""A tool call's arguments to the HTTP request its binding describes.

Parameters are serialised as OpenAPI 3.1 says for their `style` and `explode` (path: `simple`,
`label`, `matrix`; query: `form`, `spaceDelimited`, `pipeDelimited`, `deepObject`; header:
`simple`; cookie: `form`), values percent-encoded so that no argument can add a path segment,
a query parameter or a header line, and refused where they would make a `.` or `..` segment.
A parameter given as `content` is sent as its JSON text. The body is JSON, form-encoded or
multipart as its `contentType` says, else sent as text. Standard library only.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from sandboxes.bridges.openapi.credentials import Placement

ACCEPT = "application/json, */*;q=0.5"
_RESERVED = ":/?[]@!$'()*+,;="
"""What `allowReserved` leaves unencoded in a query value (not `&` or `#`, which would end it)."""
_FORBIDDEN_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
    }
)
"""Headers an argument never sets: credentials come from secrets, framing from the bridge."""
_TEMPLATE = re.compile(r"\{([^{}]+)\}")
_SEGMENT_END = re.compile(r"/(?![^{}]*\})")
"""A `/` between path segments, not one inside a `{name}`: values never hold a `/` of their own."""
_HEADER_VALUE = re.compile(r"^[\x20-\x7e\t]*$")


class BindingError(Exception):
    """The arguments cannot make a request; the message names the parameter."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None
    target: str
    """`METHOD /path/{template}`: names the operation in messages without any value in it."""


@dataclass
class _Parts:
    """A request's serialised parameters, gathered by location."""

    path: dict[str, str] = field(default_factory=dict)
    query: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=lambda: {"Accept": ACCEPT})
    cookies: list[str] = field(default_factory=list)

    def add(self, parameter: dict[str, Any], value: Any) -> None:
        name, location = str(parameter["name"]), parameter["in"]
        if location not in _DEFAULT_STYLES:
            raise BindingError(f"parameter `{name}` is `in: {location}`, which is no location")
        if "contentType" in parameter:
            value = _content_value(value, str(parameter["contentType"]))
        style = parameter.get("style") or _DEFAULT_STYLES[location]
        explode = parameter.get("explode", style == "form")
        if location == "path":
            self.path[name] = _path_value(name, value, style, explode)
        elif location == "query":
            reserved = parameter.get("allowReserved", False)
            self.query += _query_pairs(name, value, style, explode, reserved)
        elif location == "header":
            self.headers[name] = _header_value(name, value)
        elif location == "cookie":
            self.cookies.append(f"{_encoded(name)}={_simple(value, explode=False)}")

    def add_credentials(self, credentials: Placement) -> None:
        """Credentials last, each replacing any argument of the same name and location."""
        names = {f"{_encoded(k)}=" for k, _ in credentials.query}
        self.query = [pair for pair in self.query if not pair.startswith(tuple(names))]
        self.query += [f"{_encoded(k)}={_encoded(v)}" for k, v in credentials.query]
        names = {name.lower() for name in credentials.headers}
        self.headers = {k: v for k, v in self.headers.items() if k.lower() not in names}
        self.headers.update(credentials.headers)
        names = {f"{_encoded(k)}=" for k in credentials.cookies}
        self.cookies = [pair for pair in self.cookies if not pair.startswith(tuple(names))]
        self.cookies += [f"{_encoded(k)}={_encoded(v)}" for k, v in credentials.cookies.items()]
        if self.cookies:
            self.headers["Cookie"] = "; ".join(self.cookies)


def build_request(
    binding: dict[str, Any], arguments: dict[str, Any], credentials: Placement
) -> HttpRequest:
    """The request for one call; raises BindingError for arguments that cannot be sent."""
    method = str(binding["method"]).upper()
    template = str(binding["path"])
    parts = _Parts()
    for parameter in binding.get("parameters") or []:
        value = arguments.get(parameter["property"])
        if value is not None:
            parts.add(parameter, value)
    parts.add_credentials(credentials)
    content = None
    body = binding.get("body")
    if body and arguments.get(body["property"]) is not None:
        content, parts.headers["Content-Type"] = encode_body(
            arguments[body["property"]], str(body["contentType"])
        )
    query = "?" + "&".join(parts.query) if parts.query else ""
    url = _base_url(binding) + _expand(template, parts.path) + query
    return HttpRequest(method, url, parts.headers, content, f"{method} {template}")


_DEFAULT_STYLES = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}


def _base_url(binding: dict[str, Any]) -> str:
    servers = binding.get("servers")
    base = servers[0] if servers else binding.get("baseUrl")
    if not isinstance(base, str) or not base:
        raise BindingError("the operation has no server URL; re-import it with `--base-url`")
    return base.rstrip("/")


def _expand(template: str, values: dict[str, str]) -> str:
    """`template` with its parameters' values, segment by segment. A value that makes a segment
    `.` or `..` is refused rather than sent as `%2E`: the client resolves dot segments
    (`/a/../b` is `/b`), and servers that decode `%2E` first do too, calling another path."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise BindingError(f"path parameter `{name}` is required")
        return values[name]

    segments = []
    for segment in _SEGMENT_END.split(template):
        expanded = _TEMPLATE.sub(value, segment)
        if expanded in {".", ".."} and expanded != segment:
            names = " and ".join(f"`{name}`" for name in _TEMPLATE.findall(segment))
            raise BindingError(
                f"path parameter {names} cannot make the path segment `{expanded}`, which "
                f"would call another path than `{template}`; pass a value other than `.` or `..`"
            )
        segments.append(expanded)
    return "/".join(segments)


def _scalar(value: Any) -> str:
    """A value as text: strings as they are, everything else as JSON (`true`, `1.5`, `{...}`)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _content_value(value: Any, content_type: str) -> str:
    base = content_type.split(";")[0].strip().lower()
    if base == "application/json" or base.endswith("+json"):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return _scalar(value)


def _encoded(text: str) -> str:
    return quote(text, safe="")


def _simple(value: Any, *, explode: bool, separator: str = ",") -> str:
    """`a,b`; objects `k,v,k2,v2`, or `k=v` pairs joined by `separator` when exploded."""
    if isinstance(value, dict):
        pairs = [(_encoded(str(k)), _encoded(_scalar(v))) for k, v in value.items()]
        if explode:
            return separator.join(f"{k}={v}" for k, v in pairs)
        return ",".join(part for pair in pairs for part in pair)
    if isinstance(value, list):
        return (separator if explode else ",").join(_encoded(_scalar(i)) for i in value)
    return _encoded(_scalar(value))


def _path_value(name: str, value: Any, style: str, explode: bool) -> str:
    if style == "simple":
        return _simple(value, explode=explode)
    if style == "label":
        return "." + _simple(value, explode=explode, separator=".")
    if style == "matrix":
        key = _encoded(name)
        if explode and isinstance(value, dict):
            return "".join(f";{_encoded(str(k))}={_encoded(_scalar(v))}" for k, v in value.items())
        if explode and isinstance(value, list):
            return "".join(f";{key}={_encoded(_scalar(item))}" for item in value)
        return f";{key}={_simple(value, explode=False)}"
    raise BindingError(f"path parameter `{name}` has style {style!r}, which paths do not allow")


def _query_pairs(name: str, value: Any, style: str, explode: bool, reserved: bool) -> list[str]:
    safe = _RESERVED if reserved else ""
    key = quote(name, safe="")

    def encode(text: str) -> str:
        return quote(text, safe=safe)

    if isinstance(value, dict):
        if style == "deepObject":
            return [f"{key}[{encode(str(k))}]={encode(_scalar(v))}" for k, v in value.items()]
        if explode:
            return [f"{encode(str(k))}={encode(_scalar(v))}" for k, v in value.items()]
        flat = [encode(part) for k, v in value.items() for part in (str(k), _scalar(v))]
        return [f"{key}={','.join(flat)}"]
    if isinstance(value, list):
        items = [encode(_scalar(item)) for item in value]
        if explode:
            return [f"{key}={item}" for item in items]
        separator = {"spaceDelimited": "%20", "pipeDelimited": "|"}.get(style, ",")
        return [f"{key}={separator.join(items)}"]
    return [f"{key}={encode(_scalar(value))}"]


def _header_value(name: str, value: Any) -> str:
    if name.lower() in _FORBIDDEN_HEADERS:
        raise BindingError(f"header `{name}` cannot be set by an argument")
    if isinstance(value, list):
        text = ",".join(_scalar(item) for item in value)
    elif isinstance(value, dict):
        text = ",".join(part for k, v in value.items() for part in (str(k), _scalar(v)))
    else:
        text = _scalar(value)
    if not _HEADER_VALUE.match(text):
        raise BindingError(
            f"header `{name}` may hold only printable ASCII characters (no line breaks)"
        )
    return text


def encode_body(value: Any, content_type: str, *, boundary: str | None = None) -> tuple[bytes, str]:
    """The body's bytes and its Content-Type header."""
    base = content_type.split(";")[0].strip().lower()
    if base == "application/json" or base.endswith("+json"):
        return json.dumps(value, ensure_ascii=False).encode(), content_type
    if base == "application/x-www-form-urlencoded":
        return urlencode(_form_fields(value, "form"), doseq=False).encode(), content_type
    if base == "multipart/form-data":
        boundary = boundary or "sb-" + secrets.token_hex(16)
        return _multipart(_form_fields(value, "multipart"), boundary), (
            f"multipart/form-data; boundary={boundary}"
        )
    return _scalar(value).encode(), content_type


def _form_fields(value: Any, kind: str) -> list[tuple[str, str]]:
    """An object's properties as fields: arrays repeat the name, nested values are JSON."""
    if not isinstance(value, dict):
        raise BindingError(f"the {kind} body must be an object of fields")
    fields: list[tuple[str, str]] = []
    for name, item in value.items():
        for one in item if isinstance(item, list) else [item]:
            if one is not None:
                fields.append((str(name), _scalar(one)))
    return fields


def _multipart(fields: list[tuple[str, str]], boundary: str) -> bytes:
    parts = []
    for name, text in fields:
        quoted = name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{quoted}"\r\n\r\n{text}\r\n'
        )
    return ("".join(parts) + f"--{boundary}--\r\n").encode()
