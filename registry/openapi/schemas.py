"""OpenAPI Schema Objects to JSON Schema 2020-12, the dialect MCP tool schemas use.

OpenAPI 3.1 schemas already are JSON Schema; 3.0 schemas need `nullable`, boolean
`exclusiveMinimum`/`exclusiveMaximum` and `example` rewritten. In both, OpenAPI-only keywords
and `x-` extensions are dropped, and every `$ref` becomes `#/$defs/<Name>` with the target
copied into the schema's `$defs`, so each tool schema stands alone and recursive schemas stay
finite.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from registry.errors import Problem
from registry.openapi.names import sanitise, unique
from registry.openapi.refs import Location, Resolver
from registry.pointers import json_pointer

_DROPPED = frozenset({"discriminator", "xml", "externalDocs", "$id", "$schema"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_VALUES = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_ANNOTATIONS = ("title", "description", "default", "deprecated", "readOnly", "writeOnly")
_BOUNDS = (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum"))
_DEF_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_COMPONENT_SCHEMAS = ("components", "schemas")


class SchemaConverter:
    """Converts the schemas of one OpenAPI document.

    Each referenced schema is converted once and named once (after its component) for the
    whole document, in `defs`; `standalone` attaches to a tool's schema the ones it reaches.
    Tools share those converted `$defs` objects: treat tool schemas as read-only.
    """

    def __init__(self, resolver: Resolver, openapi30: bool, problems: list[Problem]) -> None:
        self._resolver = resolver
        self._openapi30 = openapi30
        self._problems = problems
        self._names: dict[Location, str] = {}
        self.defs: dict[str, Any] = {}

    def convert(self, schema: Any, at: Location) -> Any:
        """`schema` (found at `at`) as JSON Schema 2020-12; booleans pass through."""
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, dict):
            self._problems.append(
                Problem(json_pointer(at), "expected a Schema Object (a JSON object)")
            )
            return {}
        out: dict[str, Any] = {}
        if "$ref" in schema:
            name = self._def_name(schema["$ref"], at)
            if name is not None:
                out["$ref"] = f"#/$defs/{name}"
        for key, value in schema.items():
            if key == "$ref" or key in _DROPPED or key.startswith("x-"):
                continue
            if key in _SCHEMA_MAPS:
                out[key] = self._convert_map(value, (*at, key))
            elif key in _SCHEMA_LISTS or (key == "items" and isinstance(value, list)):
                out["prefixItems" if key == "items" else key] = self._convert_list(
                    value, (*at, key)
                )
            elif key in _SCHEMA_VALUES:
                out[key] = self.convert(value, (*at, key))
            elif key == "example":
                out.setdefault("examples", [copy.deepcopy(value)])
            elif key in {"nullable", "exclusiveMinimum", "exclusiveMaximum"}:
                continue
            else:
                out[key] = copy.deepcopy(value)
        _convert_bounds(schema, out)
        if self._openapi30 and schema.get("nullable") is True:
            return _nullable(out)
        return out

    def standalone(self, root: Any) -> Any:
        """`root` with the `$defs` it reaches attached, making it a standalone schema."""
        reached = self._reached(root)
        if not reached or not isinstance(root, dict):
            return root
        defs = {name: schema for name, schema in self.defs.items() if name in reached}
        return root | {"$defs": root.get("$defs", {}) | defs}

    def _reached(self, root: Any) -> set[str]:
        """Names of the `$defs` that `root` refers to, directly or through other `$defs`."""
        reached: set[str] = set()
        pending = [root]
        while pending:
            value = pending.pop()
            if isinstance(value, dict):
                ref = value.get("$ref")
                name = ref.removeprefix("#/$defs/") if isinstance(ref, str) else None
                if name in self.defs and name not in reached:
                    reached.add(name)
                    pending.append(self.defs[name])
                pending.extend(value.values())
            elif isinstance(value, list):
                pending.extend(value)
        return reached

    def _convert_map(self, value: Any, at: Location) -> Any:
        if not isinstance(value, dict):
            self._problems.append(Problem(json_pointer(at), "expected an object of schemas"))
            return {}
        return {name: self.convert(item, (*at, name)) for name, item in value.items()}

    def _convert_list(self, value: Any, at: Location) -> Any:
        if not isinstance(value, list):
            self._problems.append(Problem(json_pointer(at), "expected an array of schemas"))
            return []
        return [self.convert(item, (*at, index)) for index, item in enumerate(value)]

    def _def_name(self, ref: object, at: Location) -> str | None:
        """The `$defs` entry for the target of `ref`, converting the target on first reach."""
        target = self._resolver.target(ref, at)
        if target is None:
            return None
        if target in self._names:
            return self._names[target]
        is_component = len(target) == 3 and target[:2] == _COMPONENT_SCHEMAS
        wanted = str(target[2]) if is_component else "_".join(str(t) for t in target)
        if not (is_component and _DEF_NAME.match(wanted)):
            wanted = sanitise(wanted) or "schema"
        name = unique(wanted, set(self.defs))
        self._names[target] = name
        self.defs[name] = {}  # reserve the name before converting: the target may recurse
        self.defs[name] = self.convert(self._resolver.get(target), target)
        return name


def _convert_bounds(schema: dict[str, Any], out: dict[str, Any]) -> None:
    """Copy `exclusiveMinimum`/`exclusiveMaximum`, turning 3.0's boolean form numeric."""
    for exclusive, bound in _BOUNDS:
        value = schema.get(exclusive)
        if value is None:
            continue
        if not isinstance(value, bool):
            out[exclusive] = value
        elif value and bound in schema:
            out[exclusive] = out.pop(bound)


def _nullable(out: dict[str, Any]) -> dict[str, Any]:
    """3.0's `nullable: true`: allow `null` in `type` (and `enum`), or alongside the schema."""
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif isinstance(kind, list):
        out["type"] = kind if "null" in kind else [*kind, "null"]
    elif out.keys() - set(_ANNOTATIONS) - {"examples"}:
        outer = {key: out.pop(key) for key in _ANNOTATIONS if key in out}
        return outer | {"anyOf": [out, {"type": "null"}]}
    if isinstance(out.get("enum"), list) and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out
