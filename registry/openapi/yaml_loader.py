"""A YAML loader that reads OpenAPI documents the way JSON-minded tools do.

PyYAML speaks YAML 1.1, where `on`/`yes` are booleans and `2024-01-01` is a date; OpenAPI
tooling speaks YAML 1.2's core schema, where both are strings. Numeric keys (`200:` under
`responses`) become strings, duplicate keys are errors rather than silently dropped, and
aliases (`*name`) are refused: they add nothing `$ref` cannot do and let a small file expand
to an enormous or cyclic one. libyaml parses when PyYAML has it: large descriptions (Stripe's
is megabytes) load several times faster. Its recursive composer crashes the process on very
deep nesting, so `load_yaml` measures the depth from the (flat) event stream first.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOOL = "tag:yaml.org,2002:bool"

MAX_DEPTH = 200
"""Deeper than any real API description; shallow enough for every recursive step after."""

_SafeLoader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class OpenAPILoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """Safe loading with YAML 1.2 booleans, no timestamps, no aliases, no duplicate keys."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise ConstructorError(
                None,
                None,
                "aliases (`*name`) are not supported; write out the value anchored here "
                "or use a `$ref`",
                node.start_mark,
            )
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)  # resolve `<<` merge keys first, as the base class does
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode):
                if key_node.value in seen:
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key {key_node.value!r}; keep one of them",
                        key_node.start_mark,
                    )
                seen.add(key_node.value)
        mapping = super().construct_mapping(node, deep=deep)
        return {_key(key): value for key, value in mapping.items()}


def _key(key: Any) -> Any:
    """Mapping keys as JSON has them: `200` → `"200"`, `true` → `"true"`, `~` → `"null"`."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return str(key)
    return key


OpenAPILoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in {_TIMESTAMP, _BOOL}]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
OpenAPILoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    """Parse one YAML document with `OpenAPILoader`; raises `yaml.YAMLError` with a mark."""
    depth = 0
    for event in yaml.parse(text, Loader=OpenAPILoader):
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark  # libyaml's Mark: the same fields as PyYAML's
                message = f"nested deeper than {MAX_DEPTH} levels"
                raise ComposerError(None, None, message, mark)  # type: ignore[arg-type]
        elif isinstance(event, CollectionEndEvent):
            depth -= 1
    return yaml.load(text, Loader=OpenAPILoader)  # noqa: S506 - a SafeLoader subclass
