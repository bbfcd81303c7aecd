"""What an agent document must satisfy beyond its schema before it is published: that
pydantic-ai can build the agent it describes, and that it stays inside Switchboard.

`AgentSpec` accepts any registered capability, including ones that reach past Switchboard: `MCP`
connects the run to any MCP server directly (no grants, approvals or audit), `WebFetch` fetches
URLs from this host, `LocalWorkspace` works on its files, `ModelFallback` calls models past the
router. Only capabilities that merely shape model requests are allowed. And an output schema,
tool timeout or capability argument pydantic-ai refuses only when it builds the agent would
otherwise be published fine and fail every run as an internal error. pydantic-ai takes any
`model_settings` mapping and any `retries` number; a misspelt setting would be dropped and a
negative retry count would stop the first failed tool call, so both are checked here.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_ai import Agent, DeferredToolRequests
from pydantic_ai.agent.spec import AgentSpec
from pydantic_ai.models.test import TestModel
from pydantic_ai.output import StructuredDict

from registry.errors import Problem
from registry.pointers import problems_from_validation

ALLOWED_CAPABILITIES = (
    "Caching",
    "IncludeToolReturnSchemas",
    "RaiseContentFilterError",
    "ReinjectSystemPrompt",
    "Thinking",
)
"""Capabilities that only shape model requests; none reaches a tool, model or host."""


class AgentModelSettings(BaseModel):
    """The model settings an agent document may carry: how the model samples and how much it
    writes. Timeouts, retries, headers and extra request fields belong to the model layer,
    which decides what reaches a provider."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=True)

    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    stop_sequences: list[str] | None = Field(default=None, max_length=4)
    parallel_tool_calls: bool | None = None


ALLOWED_SETTINGS = ", ".join(AgentModelSettings.model_fields)


def build_problems(spec: AgentSpec) -> list[Problem]:
    """Why pydantic-ai could not build (or Switchboard would not run) the agent `spec` says."""
    problems = settings_problems(spec)
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


def settings_problems(spec: AgentSpec) -> list[Problem]:
    """Unknown or out-of-range `model_settings`, and a negative `retries`."""
    problems: list[Problem] = []
    settings = spec.model_settings or {}
    finite = {k: v for k, v in settings.items() if not non_finite(v)}  # `non_finite` says why
    try:
        AgentModelSettings.model_validate(finite)
    except ValidationError as exc:
        for problem in problems_from_validation(exc, ["model_settings"]):
            if problem.message.startswith("unknown field"):
                problem = Problem(
                    problem.pointer,
                    f"not a setting an agent may carry; allowed: {ALLOWED_SETTINGS}",
                )
            problems.append(problem)
    retries = spec.retries
    counts = retries.items() if isinstance(retries, dict) else [("", retries)]
    for key, count in counts:
        if isinstance(count, int) and count < 0:
            pointer = f"/retries/{key}" if key else "/retries"
            problems.append(Problem(pointer, "must be 0 or more"))
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
