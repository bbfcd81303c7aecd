"""JSON Schema checks on the way in (arguments) and out (`structuredContent`).

Every call is checked twice, so the check that passes must be cheap: `jsonschema-rs` (compiled,
about ten times faster here) decides, and `jsonschema` explains a failure, picking the most
relevant violation and naming the failing field by its JSON path, so a model (or a person) can
fix the call. A schema `jsonschema-rs` cannot compile (a regular expression its engine lacks)
is checked by `jsonschema` alone.

Validators are compiled once per schema object and kept: a version's schemas never change, and
the call path hands in the same cached dictionaries every time.

A `$ref` resolves only inside the schema. Both libraries would otherwise fetch any other URI,
`http://` or `file://`, from the gateway itself, blocking its event loop and reading what only
sandboxes may reach (a `file://` schema's content even shows up in the error message).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry
from referencing.exceptions import Unresolvable

_CACHE_LIMIT = 4096


class UnusableSchemaError(ValueError):
    """The schema itself cannot be checked against (it refers outside itself); no instance
    can pass it."""


def _refuse(uri: str) -> Any:
    raise LookupError(f"{uri} is outside the schema; Switchboard does not fetch schemas")


_LOCAL_ONLY: Registry[Any] = Registry()
"""Retrieves nothing (without a registry, `jsonschema` would fetch any URI)."""


@dataclass(frozen=True)
class _Validators:
    schema: dict[str, Any]
    fast: jsonschema_rs.Draft202012Validator | None
    explaining: Draft202012Validator


class SchemaChecks:
    def __init__(self) -> None:
        self._validators: dict[int, _Validators] = {}

    def problem(self, schema: dict[str, Any] | None, instance: Any) -> str | None:
        """`None` when `instance` satisfies `schema`, else the most relevant violation.

        Raises `UnusableSchemaError` for a schema with a `$ref` that does not resolve inside it.
        """
        if not schema:
            return None
        validators = self._compiled(schema)
        if validators.fast is not None and validators.fast.is_valid(instance):
            return None
        try:
            error = best_match(validators.explaining.iter_errors(instance))
        except Unresolvable as exc:
            raise UnusableSchemaError(
                f"its $ref {exc.ref!r} points outside the schema, and Switchboard resolves "
                "references only inside it"
            ) from None
        if error is not None:
            where = error.json_path if error.path else "$"
            return f"{where}: {error.message}"
        if validators.fast is None:
            return None
        fast_error = next(validators.fast.iter_errors(instance))
        path = "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in fast_error.instance_path
        )
        return f"${path}: {fast_error.message}"

    def _compiled(self, schema: dict[str, Any]) -> _Validators:
        entry = self._validators.get(id(schema))
        if entry is not None and entry.schema is schema:
            return entry
        if len(self._validators) >= _CACHE_LIMIT:
            self._validators.clear()
        try:
            fast: jsonschema_rs.Draft202012Validator | None = jsonschema_rs.Draft202012Validator(
                schema, retriever=_refuse
            )
        except (jsonschema_rs.ValidationError, ValueError):
            fast = None
        entry = self._validators[id(schema)] = _Validators(
            schema, fast, Draft202012Validator(schema, registry=_LOCAL_ONLY)
        )
        return entry
