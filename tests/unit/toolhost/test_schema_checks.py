"""Argument and result checks: a fast engine decides, the explaining one names the field."""

from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path

import pytest

from toolhost.validation import SchemaChecks, UnusableSchemaError

SCHEMA = {
    "type": "object",
    "properties": {"expression": {"type": "string"}, "digits": {"type": "integer"}},
    "required": ["expression"],
    "additionalProperties": False,
}


def test_valid_arguments_pass() -> None:
    assert SchemaChecks().problem(SCHEMA, {"expression": "6 * 7", "digits": 2}) is None


def test_a_violation_names_its_field() -> None:
    checks = SchemaChecks()
    assert checks.problem(SCHEMA, {"expression": 42}) == "$.expression: 42 is not of type 'string'"
    assert checks.problem(SCHEMA, {}) == "$: 'expression' is a required property"
    assert "'extra' was unexpected" in (
        checks.problem(SCHEMA, {"expression": "1", "extra": 1}) or ""
    )


def test_a_pattern_only_python_understands_is_still_checked() -> None:
    """`\\Z` is Python's end of string; jsonschema-rs's engine refuses it."""
    schema = {"type": "string", "pattern": r"^[a-z]+\Z"}
    checks = SchemaChecks()
    assert checks.problem(schema, "abc") is None
    assert (checks.problem(schema, "abc1") or "").startswith("$: 'abc1' does not match")


def test_no_schema_accepts_anything() -> None:
    assert SchemaChecks().problem(None, {"anything": [1, 2]}) is None
    assert SchemaChecks().problem({}, 3) is None


def test_a_reference_inside_the_schema_resolves() -> None:
    schema = {
        "type": "object",
        "$defs": {"count": {"type": "integer"}},
        "properties": {"n": {"$ref": "#/$defs/count"}},
    }
    checks = SchemaChecks()
    assert checks.problem(schema, {"n": 3}) is None
    assert checks.problem(schema, {"n": "three"}) == "$.n: 'three' is not of type 'integer'"


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_a_reference_outside_the_schema_is_never_fetched(
    scheme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `file://` schema's content would otherwise be read by the gateway and show up in the
    error; an `http://` one would be fetched from the gateway's own network, blocking it."""
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"enum": ["TOPSECRET-VALUE"]}))
    fetched: list[str] = []

    def urlopen(url: object, *args: object, **kwargs: object) -> io.BytesIO:
        fetched.append(str(url))
        return io.BytesIO(secret.read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    ref = secret.as_uri() if scheme == "file" else "http://127.0.0.1:9/secret.json"
    schema = {"type": "object", "properties": {"guess": {"$ref": ref}}}
    checks = SchemaChecks()
    with pytest.raises(UnusableSchemaError) as raised:
        checks.problem(schema, {"guess": "x"})
    assert str(raised.value) == (
        f"its $ref {ref!r} points outside the schema, and Switchboard resolves references "
        "only inside it"
    )
    assert "TOPSECRET" not in str(raised.value)
    assert fetched == []
    assert checks.problem(schema, {}) is None
