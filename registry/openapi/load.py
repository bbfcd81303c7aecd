"""Reading an OpenAPI document from JSON or YAML, with syntax errors located by line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from registry.documents import read_document
from registry.errors import InvalidDocumentError, Problem
from registry.openapi.structure import check_structure
from registry.openapi.yaml_loader import load_yaml


def read_openapi(path: Path) -> dict[str, Any]:
    """Read and check an OpenAPI document file (`.json`, `.yaml` or `.yml`)."""
    return load_openapi(read_document(path), str(path))


def load_openapi(data: bytes, source: str) -> dict[str, Any]:
    """Parse JSON or YAML (told apart by a leading `{`) and check the document's top levels."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = Problem("", f"not UTF-8 text: undecodable byte at offset {exc.start}")
        raise InvalidDocumentError(source, [problem]) from exc
    try:
        document = _parse(text)
    except RecursionError as exc:
        problem = Problem("", "nested too deeply to be an API description")
        raise InvalidDocumentError(source, [problem]) from exc
    except ValueError as exc:
        raise InvalidDocumentError(source, [Problem("", str(exc))]) from exc
    problems = check_structure(document)
    if problems or not isinstance(document, dict):
        raise InvalidDocumentError(source, problems)
    return document


def _parse(text: str) -> Any:
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from exc
    try:
        return load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        raise ValueError(_yaml_message(exc)) from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or "syntax error"
    if exc.context:
        what = f"{what} ({exc.context})"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"not valid YAML: {what}{where}"
