"""JSON Schema checks on the way in (arguments) and out (`structuredContent`).

Validators are compiled once per schema object and kept: a version's schemas never change, and
the call path hands in the same cached dictionaries every time.
Messages name the failing field by its JSON path, so a model (or a person) can fix the call.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

_CACHE_LIMIT = 4096


class SchemaChecks:
    def __init__(self) -> None:
        self._validators: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}

    def problem(self, schema: dict[str, Any] | None, instance: Any) -> str | None:
        """`None` when `instance` satisfies `schema`, else the most relevant violation."""
        if not schema:
            return None
        validator = self._validator(schema)
        error = best_match(validator.iter_errors(instance))
        if error is None:
            return None
        where = error.json_path if error.path else "$"
        return f"{where}: {error.message}"

    def _validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        entry = self._validators.get(id(schema))
        if entry is not None and entry[0] is schema:
            return entry[1]
        if len(self._validators) >= _CACHE_LIMIT:
            self._validators.clear()
        validator = Draft202012Validator(schema)
        self._validators[id(schema)] = (schema, validator)
        return validator
