"""Argument and result checks: a fast engine decides, the explaining one names the field."""

from __future__ import annotations

from toolhost.validation import SchemaChecks

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
