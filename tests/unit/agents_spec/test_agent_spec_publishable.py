"""What a document's schema allows but a published agent must not have: capabilities that reach
past Switchboard, parts pydantic-ai cannot build (each run would fail as an internal error),
`{{` templates (an `ImportError` traceback) and numbers JSON cannot hold (PostgreSQL refuses
them; the API could not answer with them)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from agents.spec import agent_from_dict, check_publishable, parse_agent
from registry.errors import InvalidDocumentError


def document(**spec: Any) -> dict[str, Any]:
    block = spec.pop("switchboard", {})
    return {
        "name": "helper",
        "instructions": "Be brief.",
        **spec,
        "switchboard": {
            "title": "Helper",
            "summary": "Helps.",
            "version": "1.0.0",
            "prompt": "Help with {topic}.",
            "questions": [{"key": "topic", "label": "Topic", "type": "string"}],
            **block,
        },
    }


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidDocumentError) as caught:
        parse_agent(yaml.safe_dump(data), "test.yaml")
    return {p.pointer: p.message for p in caught.value.problems}


@pytest.mark.parametrize(
    "capability",
    [
        {"MCP": {"url": "http://127.0.0.1:8765/mcp"}},
        {"WebFetch": {"local": True}},
        {"WebSearch": {}},
        {"LocalWorkspace": {"working_dir": "/"}},
        {"ModelFallback": ["openai:gpt-4o"]},
        {"SetToolMetadata": {}},
        "NoSuchCapability",
    ],
)
def test_capabilities_that_reach_past_switchboard_are_refused(capability: Any) -> None:
    found = problems(document(capabilities=[{"Thinking": {}}, capability]))
    assert list(found) == ["/capabilities/1"]
    assert (
        "is not allowed: agents reach tools only through `switchboard.tools`"
        in found["/capabilities/1"]
    )


def test_allowed_capabilities_still_publish() -> None:
    allowed = [{"Thinking": {"effort": "low"}}, "ReinjectSystemPrompt", "RaiseContentFilterError"]
    agent = parse_agent(yaml.safe_dump(document(capabilities=allowed)))
    assert [c.name for c in agent.spec.capabilities] == [
        "Thinking",
        "ReinjectSystemPrompt",
        "RaiseContentFilterError",
    ]


def test_an_allowed_capability_with_bad_arguments_is_refused_at_its_pointer() -> None:
    found = problems(document(capabilities=[{"Thinking": {"colour": "blue"}}]))
    assert "pydantic-ai cannot build this agent" in found["/capabilities/0"]


@pytest.mark.parametrize("schema", [{"type": "string"}, {"type": 42}, {"items": {}}])
def test_an_output_schema_that_is_not_an_object_is_refused(schema: dict[str, Any]) -> None:
    found = problems(document(output_schema=schema))
    assert found == {"/output_schema": "not a usable output schema: Schema must be an object"}


@pytest.mark.parametrize("seconds", [0, -5])
def test_a_tool_timeout_of_no_time_is_refused(seconds: float) -> None:
    assert problems(document(tool_timeout=seconds)) == {
        "/tool_timeout": "must be a number of seconds above 0"
    }


@pytest.mark.parametrize(
    ("spec", "pointer"),
    [
        ({"instructions": "Answer like {{name}}"}, "/instructions"),
        ({"instructions": ["Be brief.", "Sign as {{me}}"]}, "/instructions/1"),
        ({"description": "{{x}}"}, "/description"),
    ],
)
def test_templates_are_a_problem_not_a_traceback(spec: dict[str, Any], pointer: str) -> None:
    found = problems(document(**spec))
    assert list(found) == [pointer]
    assert "`{{` starts a pydantic-ai template" in found[pointer]


@pytest.mark.parametrize(
    ("spec", "pointer"),
    [
        ({"switchboard": {"limits": {"cost": float("inf")}}}, "/switchboard/limits/cost"),
        (
            {
                "switchboard": {
                    "questions": [
                        {"key": "topic", "label": "T", "type": "number", "default": float("inf")}
                    ]
                }
            },
            "/switchboard/questions/0/default",
        ),
        ({"model_settings": {"temperature": float("nan")}}, "/model_settings/temperature"),
        ({"metadata": {"a/b": [float("-inf")]}}, "/metadata/a~1b/0"),
    ],
)
def test_numbers_json_cannot_hold_are_refused(spec: dict[str, Any], pointer: str) -> None:
    found = problems(document(**spec))
    assert pointer in found, found
    assert found[pointer].endswith("is not a finite number")


@pytest.mark.parametrize(
    ("spec", "pointer", "message"),
    [
        ({"model_settings": {"temprature": 0.2}}, "/model_settings/temprature", "allowed: "),
        (
            {"model_settings": {"extra_body": {"model": "x"}}},
            "/model_settings/extra_body",
            "max_tokens",
        ),
        (
            {"model_settings": {"temperature": 3}},
            "/model_settings/temperature",
            "less than or equal to 2",
        ),
        (
            {"model_settings": {"max_tokens": 0}},
            "/model_settings/max_tokens",
            "greater than or equal to 1",
        ),
        ({"model_settings": {"max_tokens": "many"}}, "/model_settings/max_tokens", "valid integer"),
        (
            {"model_settings": {"stop_sequences": "END"}},
            "/model_settings/stop_sequences",
            "valid list",
        ),
        ({"retries": -1}, "/retries", "0 or more"),
        ({"retries": {"tools": -2, "output": 1}}, "/retries/tools", "0 or more"),
    ],
)
def test_model_settings_and_retries_are_checked(
    spec: dict[str, Any], pointer: str, message: str
) -> None:
    found = problems(document(**spec))
    assert list(found) == [pointer], found
    assert message in found[pointer]


def test_usable_model_settings_publish() -> None:
    settings = {"temperature": 0, "max_tokens": 400, "top_p": 0.9, "stop_sequences": ["END"]}
    parsed = parse_agent(yaml.safe_dump(document(model_settings=settings, retries=0)), "t.yaml")
    assert parsed.spec.model_settings == settings


def test_every_problem_is_reported_together() -> None:
    found = problems(
        document(
            capabilities=["MCP"],
            output_schema={"type": "string"},
            tool_timeout=-1,
            switchboard={"limits": {"cost": float("inf")}},
        )
    )
    assert set(found) == {
        "/capabilities/0",
        "/output_schema",
        "/tool_timeout",
        "/switchboard/limits/cost",
    }


def test_a_document_read_from_a_dict_is_checked_when_published() -> None:
    agent = agent_from_dict(document(capabilities=[{"MCP": {"url": "http://x.example/mcp"}}]))
    with pytest.raises(InvalidDocumentError, match="capability `MCP` is not allowed"):
        check_publishable(agent, "helper@1.0.0")
