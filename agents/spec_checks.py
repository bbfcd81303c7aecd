"""What an agent document must satisfy beyond its schema before it is published: that
pydantic-ai can build the agent it describes, and that it stays inside Switchboard.

`AgentSpec` accepts any registered capability, including ones that reach past Switchboard: `MCP`
connects the run to any MCP server directly (no grants, approvals or audit), `WebFetch` fetches
URLs from this host, `LocalWorkspace` works on its files, `ModelFallback` calls models past the
router. Only capabilities that merely shape model requests are allowed. And an output schema,
tool timeout or capability argument pydantic-ai refuses only when it builds the agent would
otherwise be published fine and fail every run as an internal error.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic_ai import Agent, DeferredToolRequests
from pydantic_ai.agent.spec import AgentSpec
from pydantic_ai.models.test import TestModel
from pydantic_ai.output import StructuredDict

from registry.errors import Problem

ALLOWED_CAPABILITIES = (
    "Caching",
    "IncludeToolReturnSchemas",
    "RaiseContentFilterError",
    "ReinjectSystemPrompt",
    "Thinking",
)
"""Capabilities that only shape model requests; none reaches a tool, model or host."""


def build_problems(spec: AgentSpec) -> list[Problem]:
    """Why pydantic-ai could not build (or Switchboard would not run) the agent `spec` says."""
    problems: list[Problem] = []
    for index, capability in enumerate(spec.capabilities):
        pointer = f"/capabilities/{index}"
        if capability.name not in ALLOWED_CAPABILITIES:
            problems.append(
                Problem(
                    pointer,
                    f"capability `{capability.name}` is not allowed: agents reach tools only "
                    "through `switchboard.tools` and models only through `switchboard.model`; "
                    f"allowed: {', '.join(ALLOWED_CAPABILITIES)}",
                )
            )
            continue
        only = AgentSpec(name=spec.name, capabilities=[capability])
        problem = _build(only, pointer)
        if problem:
            problems.append(problem)
    if spec.output_schema:  # the run engine reads an empty schema as "text"
        try:
            StructuredDict(spec.output_schema)
        except Exception as exc:
            problems.append(Problem("/output_schema", f"not a usable output schema: {exc}"))
    if spec.tool_timeout is not None and not spec.tool_timeout > 0:
        problems.append(Problem("/tool_timeout", "must be a number of seconds above 0"))
    if not problems:
        problem = _build(spec, "")
        if problem:
            problems.append(problem)
    return problems


def _build(spec: AgentSpec, pointer: str) -> Problem | None:
    schema = spec.output_schema
    try:
        Agent.from_spec(
            spec,
            model=TestModel(),
            output_type=[StructuredDict(schema) if schema else str, DeferredToolRequests],
        )
    except Exception as exc:
        return Problem(pointer, f"pydantic-ai cannot build this agent: {exc}")
    return None


def non_finite(value: Any, pointer: str = "") -> list[Problem]:
    """Every infinite or NaN number in a JSON-like `value`: JSON has no such numbers, so
    PostgreSQL refuses to store them and JSON readers refuse to read them back."""
    if isinstance(value, float) and not math.isfinite(value):
        return [Problem(pointer, f"{value} is not a finite number")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite(v, f"{pointer}/{_escaped(k)}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in non_finite(v, f"{pointer}/{i}")]
    return []


def _escaped(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")
