"""The shape of an OpenAPI document down to its operations, checked before anything is read.

Deeper parts (parameters, bodies, responses, schemas) are checked where they are converted,
after their `$ref`s are followed.
"""

from __future__ import annotations

import re
from typing import Any

from registry.errors import Problem
from registry.pointers import json_pointer

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_VERSION = re.compile(r"^3\.[01]\.\d+(-.+)?$")


def is_openapi30(document: dict[str, Any]) -> bool:
    return str(document.get("openapi", "")).startswith("3.0.")


def check_structure(document: Any) -> list[Problem]:
    """Every problem with the document's top levels: version, `info`, `paths`, operations."""
    if not isinstance(document, dict):
        return [Problem("", "expected an OpenAPI document (a JSON or YAML object)")]
    problems = _check_version(document)
    problems += _check_info(document.get("info"))
    problems += _check_paths(document.get("paths"))
    for key in ("servers", "security"):
        if key in document and not isinstance(document[key], list):
            problems.append(Problem(f"/{key}", "expected an array"))
    components = document.get("components", {})
    if not isinstance(components, dict):
        problems.append(Problem("/components", "expected an object"))
    else:
        for name, value in components.items():
            if not isinstance(value, dict):
                problems.append(
                    Problem(json_pointer(["components", name]), "expected an object by name")
                )
    return problems


def _check_version(document: dict[str, Any]) -> list[Problem]:
    if "swagger" in document:
        return [
            Problem(
                "/swagger",
                "Swagger 2.0 is not supported; convert the document to OpenAPI 3 first "
                "(for example with `swagger2openapi`)",
            )
        ]
    version = document.get("openapi")
    if version is None:
        return [Problem("/openapi", "required field is missing; expected `3.0.x` or `3.1.x`")]
    if not isinstance(version, str) or not _VERSION.match(version):
        return [
            Problem(
                "/openapi",
                f"unsupported version {version!r}; expected a string `3.0.x` or `3.1.x` "
                "(quote it in YAML)",
            )
        ]
    return []


def _check_info(info: Any) -> list[Problem]:
    if info is None:
        return [Problem("/info", "required field is missing; add `title` and `version`")]
    if not isinstance(info, dict):
        return [Problem("/info", "expected an object with `title` and `version`")]
    problems = []
    for key in ("title", "version"):
        value = info.get(key)
        if value is None:
            problems.append(Problem(f"/info/{key}", "required field is missing"))
        elif not isinstance(value, str):
            message = f"expected a string, not {value!r}; quote it in YAML"
            problems.append(Problem(f"/info/{key}", message))
        elif not value.strip():
            problems.append(Problem(f"/info/{key}", "expected a non-empty string"))
    return problems


def _check_paths(paths: Any) -> list[Problem]:
    if paths is None:
        return [Problem("/paths", "required field is missing; there are no operations to import")]
    if not isinstance(paths, dict):
        return [Problem("/paths", "expected an object mapping paths such as `/pets` to path items")]
    problems = []
    for path, item in paths.items():
        at: list[str | int] = ["paths", path]
        if path.startswith("x-"):
            continue
        if not path.startswith("/"):
            problems.append(Problem(json_pointer(at), f"path {path!r} must start with `/`"))
        problems += check_path_item(item, at)
    return problems


def check_path_item(item: Any, at: list[str | int]) -> list[Problem]:
    """Problems with a path item and its operations (also used for `$ref`ed path items)."""
    if not isinstance(item, dict):
        return [Problem(json_pointer(at), "expected a Path Item Object")]
    if "$ref" in item:
        return []  # checked once followed
    problems = []
    if "parameters" in item and not isinstance(item["parameters"], list):
        problems.append(Problem(json_pointer([*at, "parameters"]), "expected an array"))
    for method in METHODS:
        if method in item:
            problems += _check_operation(item[method], [*at, method])
    return problems


def _check_operation(operation: Any, at: list[str | int]) -> list[Problem]:
    if not isinstance(operation, dict):
        return [Problem(json_pointer(at), "expected an Operation Object")]
    expected = {
        "operationId": str,
        "summary": str,
        "description": str,
        "parameters": list,
        "requestBody": dict,
        "responses": dict,
        "security": list,
        "servers": list,
        "deprecated": bool,
    }
    problems = []
    for key, kind in expected.items():
        if key in operation and not isinstance(operation[key], kind):
            name = {str: "a string", list: "an array", dict: "an object", bool: "a boolean"}[kind]
            problems.append(Problem(json_pointer([*at, key]), f"expected {name}"))
    return problems
