"""Building the HTTP request a call's binding describes, and choosing its credentials."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from sandboxes.bridges.openapi.credentials import CredentialError, Placement, credentials_for
from sandboxes.bridges.openapi.requests import BindingError, build_request, encode_body

BASE = "https://api.example.com/v1"


def binding(path: str = "/items", method: str = "GET", **extra: Any) -> dict[str, Any]:
    return {"method": method, "path": path, "parameters": [], "body": None, "baseUrl": BASE} | extra


def param(name: str, where: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "property": extra.pop("property", name)} | extra


def url_for(parameter: dict[str, Any], value: Any, path: str = "/items") -> str:
    request = build_request(
        binding(path, parameters=[parameter]), {parameter["property"]: value}, Placement()
    )
    return request.url.removeprefix(BASE)


@pytest.mark.parametrize(
    ("style", "explode", "value", "expected"),
    [
        (None, None, 5, "/items/5"),
        (None, None, "a b/../c", "/items/a%20b%2F..%2Fc"),
        (None, None, ["blue", "black"], "/items/blue,black"),
        (None, None, {"R": 100, "G": 200}, "/items/R,100,G,200"),
        (None, True, {"R": 100, "G": 200}, "/items/R=100,G=200"),
        ("label", None, ["blue", "black"], "/items/.blue,black"),
        ("label", True, ["blue", "black"], "/items/.blue.black"),
        ("label", True, {"R": 100, "G": 200}, "/items/.R=100.G=200"),
        ("matrix", None, "blue", "/items/;id=blue"),
        ("matrix", None, ["blue", "black"], "/items/;id=blue,black"),
        ("matrix", True, ["blue", "black"], "/items/;id=blue;id=black"),
        ("matrix", True, {"R": 100, "G": 200}, "/items/;R=100;G=200"),
        (None, None, True, "/items/true"),
    ],
)
def test_path_parameters_follow_their_style(
    style: str | None, explode: bool | None, value: Any, expected: str
) -> None:
    extra = {k: v for k, v in {"style": style, "explode": explode}.items() if v is not None}
    assert url_for(param("id", "path", **extra), value, "/items/{id}") == expected


@pytest.mark.parametrize(
    ("extra", "value", "expected"),
    [
        ({}, "a&b=c", "?q=a%26b%3Dc"),
        ({}, ["x", "y"], "?q=x&q=y"),
        ({"explode": False}, ["x", "y"], "?q=x,y"),
        ({"style": "spaceDelimited", "explode": False}, ["x", "y"], "?q=x%20y"),
        ({"style": "pipeDelimited", "explode": False}, ["x", "y"], "?q=x|y"),
        ({}, {"min": 1, "max": 5}, "?min=1&max=5"),
        ({"explode": False}, {"min": 1, "max": 5}, "?q=min,1,max,5"),
        ({"style": "deepObject", "explode": True}, {"min": 1}, "?q[min]=1"),
        ({"allowReserved": True}, "a/b:c&d", "?q=a/b:c%26d"),
        ({}, False, "?q=false"),
        ({"contentType": "application/json"}, {"a": [1]}, "?q=%7B%22a%22%3A%5B1%5D%7D"),
    ],
)
def test_query_parameters_follow_their_style(
    extra: dict[str, Any], value: Any, expected: str
) -> None:
    assert url_for(param("q", "query", **extra), value) == "/items" + expected


def test_headers_cookies_and_absent_arguments() -> None:
    request = build_request(
        binding(
            parameters=[
                param("X-Trace", "header", property="trace"),
                param("X-Tags", "header", property="tags"),
                param("session", "cookie"),
                param("unused", "query"),
            ]
        ),
        {"trace": "abc", "tags": ["a", "b"], "session": "s 1", "unused": None},
        Placement(cookies={"sid": "k;v"}),
    )
    assert request.url == BASE + "/items"
    assert request.headers["X-Trace"] == "abc"
    assert request.headers["X-Tags"] == "a,b"
    assert request.headers["Cookie"] == "session=s%201; sid=k%3Bv"
    assert request.target == "GET /items"


@pytest.mark.parametrize("name", ["Authorization", "cookie", "Host", "Content-Length"])
def test_arguments_never_set_credential_or_framing_headers(name: str) -> None:
    with pytest.raises(BindingError, match=f"header `{name}` cannot be set"):
        build_request(
            binding(parameters=[param(name, "header", property="h")]), {"h": "x"}, Placement()
        )


def test_header_values_cannot_add_lines() -> None:
    with pytest.raises(BindingError, match="no line breaks"):
        build_request(
            binding(parameters=[param("X-A", "header", property="a")]),
            {"a": "x\r\nAuthorization: Bearer stolen"},
            Placement(),
        )


def test_operation_servers_win_over_the_base_url() -> None:
    request = build_request(
        binding("/uploads", servers=["https://files.example.com/"]), {}, Placement()
    )
    assert request.url == "https://files.example.com/uploads"


def test_missing_path_parameter_and_server_are_named() -> None:
    with pytest.raises(BindingError, match="path parameter `id` is required"):
        build_request(binding("/items/{id}", parameters=[param("id", "path")]), {}, Placement())
    with pytest.raises(BindingError, match="--base-url"):
        build_request(binding(baseUrl=None), {}, Placement())


@pytest.mark.parametrize(
    ("path", "style", "arguments", "segment"),
    [
        ("/items/{a}/x", None, {"a": ".."}, ".."),
        ("/items/{a}/x", None, {"a": "."}, "."),
        ("/items/{a}", None, {"a": ["."]}, "."),
        ("/items/{a}", "label", {"a": "."}, ".."),
        ("/items/{a}", "label", {"a": ""}, "."),
        ("/items/{a}{b}/x", None, {"a": ".", "b": "."}, ".."),
    ],
)
def test_path_values_never_make_dot_segments(
    path: str, style: str | None, arguments: dict[str, Any], segment: str
) -> None:
    extra = {"style": style} if style else {}
    parameters = [param(name, "path", **extra) for name in arguments]
    with pytest.raises(BindingError, match=f"cannot make the path segment `{re.escape(segment)}`"):
        build_request(binding(path, parameters=parameters), arguments, Placement())


def test_dots_inside_a_path_value_are_sent() -> None:
    assert url_for(param("id", "path"), "...", "/items/{id}") == "/items/..."
    assert url_for(param("id", "path"), "v1.2", "/items/{id}") == "/items/v1.2"


def test_json_body_and_credentials_placement() -> None:
    request = build_request(
        binding(method="POST", body={"property": "body", "contentType": "application/json"}),
        {"body": {"title": "Zoë", "tags": []}},
        Placement(headers={"X-Key": "k"}, query=[("api_key", "s&t")]),
    )
    assert request.method == "POST"
    assert request.url == BASE + "/items?api_key=s%26t"
    assert request.content == '{"title": "Zoë", "tags": []}'.encode()
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Key"] == "k"


def test_form_and_multipart_bodies() -> None:
    form, form_type = encode_body(
        {"name": "a b", "tags": ["x", "y"], "meta": {"k": 1}, "skip": None},
        "application/x-www-form-urlencoded",
    )
    assert form == b"name=a+b&tags=x&tags=y&meta=%7B%22k%22%3A1%7D"
    assert form_type == "application/x-www-form-urlencoded"
    multipart, multipart_type = encode_body(
        {"a": "1", "b": ["2", "3"]}, "multipart/form-data", boundary="B"
    )
    assert multipart_type == "multipart/form-data; boundary=B"
    assert multipart == (
        b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        b'--B\r\nContent-Disposition: form-data; name="b"\r\n\r\n2\r\n'
        b'--B\r\nContent-Disposition: form-data; name="b"\r\n\r\n3\r\n--B--\r\n'
    )
    text, text_type = encode_body("<a/>", "application/xml")
    assert (text, text_type) == (b"<a/>", "application/xml")
    with pytest.raises(BindingError, match="must be an object"):
        encode_body(["x"], "application/x-www-form-urlencoded")


SCHEMES: dict[str, dict[str, Any]] = {
    "oauth2": {"type": "oauth2", "flows": {}},
    "bearerAuth": {"type": "http", "scheme": "bearer"},
    "basicAuth": {"type": "http", "scheme": "Basic"},
    "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "queryKey": {"type": "apiKey", "in": "query", "name": "key"},
    "cookieKey": {"type": "apiKey", "in": "cookie", "name": "sid"},
    "digest": {"type": "http", "scheme": "digest"},
    "mtls": {"type": "mutualTLS"},
}


def place(alternatives: list[list[str]], secrets: dict[str, str]) -> Placement:
    return credentials_for(alternatives, SCHEMES, secrets, server="com.example/api")


def test_the_first_alternative_with_stored_secrets_is_sent() -> None:
    alternatives = [["oauth2"], ["bearerAuth"]]
    assert place(alternatives, {"bearerAuth": "b"}).headers == {"Authorization": "Bearer b"}
    assert place(alternatives, {"oauth2": "o", "bearerAuth": "b"}).headers == {
        "Authorization": "Bearer o"
    }


def test_each_scheme_goes_where_it_says() -> None:
    placed = place(
        [["headerKey", "queryKey", "cookieKey"]],
        {"headerKey": "h", "queryKey": "q", "cookieKey": "c"},
    )
    assert (placed.headers, placed.query, placed.cookies) == (
        {"X-API-Key": "h"},
        [("key", "q")],
        {"sid": "c"},
    )
    basic = place([["basicAuth"]], {"basicAuth": "user:pa:ss"}).headers["Authorization"]
    assert basic == "Basic " + base64.b64encode(b"user:pa:ss").decode()


def test_anonymous_is_the_last_resort() -> None:
    assert place([], {}) == Placement()
    assert place([[], ["bearerAuth"]], {"bearerAuth": "b"}).headers == {"Authorization": "Bearer b"}
    assert place([[], ["bearerAuth"]], {}) == Placement()


def test_missing_or_unusable_credentials_name_the_fix() -> None:
    with pytest.raises(CredentialError) as missing:
        place([["oauth2"], ["bearerAuth"]], {})
    message = str(missing.value)
    assert "`oauth2` or `bearerAuth`" in message
    assert "`switchboard secret set com.example/api NAME`" in message
    with pytest.raises(CredentialError, match="store it as `user:password`"):
        place([["basicAuth"]], {"basicAuth": "no-colon"})
    with pytest.raises(CredentialError, match="HTTP `digest` authentication"):
        place([["digest"]], {"digest": "x"})
    with pytest.raises(CredentialError, match="mutualTLS scheme"):
        place([["mtls"]], {"mtls": "x"})
    with pytest.raises(CredentialError) as both:
        place([["headerKey", "queryKey"]], {"headerKey": "stored-secret-value"})
    assert "`headerKey` and `queryKey`" in str(both.value)
    assert "stored-secret-value" not in str(both.value)


def test_credentials_replace_arguments_of_the_same_name() -> None:
    request = build_request(
        binding(
            parameters=[
                param("key", "query", property="k"),
                param("X-Api-Key", "header", property="h"),
                param("sid", "cookie", property="c"),
                param("keep", "query"),
            ]
        ),
        {"k": "mine", "h": "mine", "c": "mine", "keep": "1"},
        Placement(headers={"x-api-key": "S1"}, query=[("key", "S2")], cookies={"sid": "S3"}),
    )
    assert request.url == BASE + "/items?keep=1&key=S2"
    assert "X-Api-Key" not in request.headers
    assert request.headers["x-api-key"] == "S1"
    assert request.headers["Cookie"] == "sid=S3"
