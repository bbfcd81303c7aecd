"""Agent documents: pydantic-ai's `AgentSpec` plus a `switchboard` block, read from YAML.

The `AgentSpec` half says how the agent thinks (instructions, model settings, retries,
capabilities, output schema); the `switchboard` half says how people meet it (title, the launch
form), what it may reach (tools, model alias) and within which bounds (limits, approvals,
visibility). The model is always an alias of the routed model layer, so the spec's own `model`
is refused: an agent cannot name a provider past the router.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import string
from datetime import date
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_ai.agent.spec import AgentSpec

from agents.spec_checks import build_problems, non_finite
from registry.errors import InvalidDocumentError, Problem
from registry.pointers import problems_from_validation

SWITCHBOARD_KEY = "switchboard"
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
TOOL_REF = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[A-Za-z0-9_.-]+)?$")
SPEC_FIELDS_REFUSED = {
    "model": "set the model alias in `switchboard.model`; agents reach models only via the router",
    "deps_schema": "Switchboard agents take their input from `switchboard.questions`",
}
TEMPLATED_FIELDS = ("instructions", "description")
"""Where a `{{` would make pydantic-ai read the text as a template rendered with `deps`, which
Switchboard agents do not have."""
MAX_DEPTH = 64
"""Nesting a document may have: composing YAML recurses once per level."""
QuestionType = Literal["string", "text", "number", "boolean", "select", "date"]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Question(_Block):
    """One field of the launch form."""

    key: str = Field(pattern=KEY.pattern)
    label: str = Field(min_length=1, max_length=120)
    help: str | None = Field(default=None, max_length=500)
    type: QuestionType = "string"
    required: bool = True
    default: str | float | bool | None = None
    options: list[str] | None = None
    sensitive: bool = False
    """Kept out of run history, events and audit; only the model sees it."""

    @model_validator(mode="after")
    def _options_for_select(self) -> Question:
        if self.type == "select" and not self.options:
            raise ValueError("a `select` question needs a non-empty `options` list")
        if self.type != "select" and self.options is not None:
            raise ValueError(f"`options` is only for `select` questions, not `{self.type}`")
        if self.default is not None:
            problem = answer_problem(self, self.default)
            if problem:
                raise ValueError(f"`default` does not fit the question: {problem}")
        return self


class Limits(_Block):
    """Bounds on one run; reaching any of them stops the run with that reason."""

    requests: int = Field(default=20, ge=1, le=1000)
    """Model requests."""
    tool_calls: int = Field(default=20, ge=0, le=1000)
    tokens: int | None = Field(default=None, ge=1)
    """Input plus output tokens over the whole run."""
    cost: float | None = Field(default=None, gt=0)
    """In the currency of the model layer's prices (USD)."""
    wall_time_seconds: float = Field(default=300, gt=0, le=86_400)


class Approval(_Block):
    """Which tool calls wait for a person. `annotations` (the default) asks for every tool
    whose annotations do not say read-only, or do say destructive."""

    mode: Literal["annotations", "always", "never"] = "annotations"
    always: list[Annotated[str, Field(pattern=TOOL_REF.pattern)]] = Field(default_factory=list)
    """Tools (or servers) that always need approval, whatever their annotations."""
    never: list[Annotated[str, Field(pattern=TOOL_REF.pattern)]] = Field(default_factory=list)
    """Tools (or servers) trusted to run unattended, whatever their annotations."""
    delegates: list[str] = Field(default_factory=list)
    """User names who may decide besides the person who launched the run."""

    def needs_approval(self, tool: str, *, read_only: bool, destructive: bool) -> bool:
        """`tool` is `slug.tool`; `always` and `never` may name the tool or its whole server."""
        named = {tool, tool.partition(".")[0]}
        if named & set(self.never):
            return False
        if named & set(self.always) or self.mode == "always":
            return True
        if self.mode == "never":
            return False
        return destructive or not read_only


class SwitchboardBlock(_Block):
    title: str = Field(min_length=1, max_length=80)
    summary: str = Field(min_length=1, max_length=240)
    icon: str = Field(default="🤖", min_length=1, max_length=32)
    category: str = Field(default="General", min_length=1, max_length=40)
    version: str = Field(pattern=VERSION.pattern)
    prompt: str = Field(min_length=1, max_length=20_000)
    """The run's first message, with `{key}` for each answer."""
    questions: list[Question] = Field(default_factory=list, max_length=30)
    tools: list[Annotated[str, Field(pattern=TOOL_REF.pattern)]] = Field(default_factory=list)
    """Registry server slugs (every tool of the server) or catalogue tool names."""
    model: str = Field(default="default", min_length=1, max_length=64)
    limits: Limits = Field(default_factory=Limits)
    approval: Approval = Field(default_factory=Approval)
    visibility: list[str] = Field(default_factory=list)
    """Team names that may launch the agent; empty means every team."""

    @field_validator("summary")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("the summary is one line")
        return value.strip()

    @model_validator(mode="after")
    def _prompt_uses_known_keys(self) -> SwitchboardBlock:
        keys = [q.key for q in self.questions]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"question keys must be unique; repeated: {', '.join(duplicates)}")
        try:
            fields = [n for _, n, _, _ in string.Formatter().parse(self.prompt) if n is not None]
        except ValueError as exc:
            message = f"`prompt` is not a valid template ({exc}); write `{{{{` for `{{`"
            raise ValueError(message) from exc
        odd = [name for name in fields if not KEY.match(name)]
        if odd:
            shown = ", ".join(f"`{{{name}}}`" for name in odd)
            raise ValueError(
                f"`prompt` placeholders are a question's key, such as `{{topic}}`; not {shown} "
                "(write `{{` and `}}` for literal braces)"
            )
        unknown = sorted(set(fields) - set(keys))
        if unknown:
            raise ValueError(f"`prompt` uses {', '.join(unknown)}, which no question asks for")
        return self


class AgentDocument(BaseModel):
    """A whole agent file, validated; `spec` builds the pydantic-ai agent."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    spec: AgentSpec
    switchboard: SwitchboardBlock
    source: dict[str, Any]
    """The document as published, for storing and showing back."""

    @property
    def name(self) -> str:
        assert self.spec.name is not None, "checked when the document was read"
        return self.spec.name

    @property
    def digest(self) -> str:
        canonical = json.dumps(self.source, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def prompt_for(self, answers: dict[str, Any]) -> str:
        return self.switchboard.prompt.format_map(
            {q.key: _shown(answers.get(q.key)) for q in self.switchboard.questions}
        )


def _shown(value: Any) -> str:
    if value is None:
        return "(not given)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML minus what makes a document mean something other than it reads: a key given
    twice (YAML silently keeps the last) and aliases (which expand without bound when the
    document is stored as JSON)."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        problem = None
        if self.check_event(yaml.AliasEvent):
            problem = "aliases (`*name`) are not allowed; repeat the value instead"
        elif self.depth >= MAX_DEPTH:
            problem = f"nested deeper than {MAX_DEPTH} levels"
        if problem:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, problem, mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice; keep one", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_agent(text: str | bytes, source: str = "agent document") -> AgentDocument:
    """Validate an agent document; every problem found is reported, each at its JSON pointer."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise InvalidDocumentError(source, [Problem("", f"not valid YAML: {exc}")]) from exc
    if not isinstance(data, dict):
        raise InvalidDocumentError(source, [Problem("", "an agent document is a YAML mapping")])
    # As JSON sees it (dates become text, keys strings): what is stored is what was validated.
    document = agent_from_dict(json.loads(json.dumps(data, default=str)), source)
    check_publishable(document, source)
    return document


def check_publishable(document: AgentDocument, source: str) -> None:
    """Refuse, at their JSON pointers, what only shows when the document is stored or run: numbers
    JSON cannot hold, capabilities that reach past Switchboard, parts pydantic-ai cannot build."""
    problems = non_finite(document.source) + build_problems(document.spec)
    if problems:
        raise InvalidDocumentError(source, problems)


def agent_from_dict(data: dict[str, Any], source: str = "agent document") -> AgentDocument:
    problems: list[Problem] = []
    spec_data = {k: v for k, v in data.items() if k != SWITCHBOARD_KEY}
    known = {f.alias or name for name, f in AgentSpec.model_fields.items()}
    for key in spec_data:
        if key in SPEC_FIELDS_REFUSED:
            problems.append(Problem(f"/{key}", SPEC_FIELDS_REFUSED[key]))
        elif key not in known:
            problems.append(Problem(f"/{key}", "unknown field; remove it or check its spelling"))
    name = spec_data.get("name")
    if not isinstance(name, str) or not SLUG.match(name):
        problems.append(
            Problem("/name", "required: lower-case letters, digits and dashes, at most 63")
        )
    templated = _templates(spec_data)
    problems.extend(templated.values())
    spec = block = None
    try:
        spec = AgentSpec.model_validate(
            {
                k: v
                for k, v in spec_data.items()
                if k in known and k not in SPEC_FIELDS_REFUSED and k not in templated
            }
        )
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc))
    if SWITCHBOARD_KEY not in data:
        problems.append(Problem(f"/{SWITCHBOARD_KEY}", "required field is missing"))
    else:
        try:
            block = SwitchboardBlock.model_validate(data[SWITCHBOARD_KEY])
        except ValidationError as exc:
            problems.extend(problems_from_validation(exc, [SWITCHBOARD_KEY]))
    if problems or spec is None or block is None:
        raise InvalidDocumentError(source, problems)
    return AgentDocument(spec=spec, switchboard=block, source=data)


def _templates(spec_data: dict[str, Any]) -> dict[str, Problem]:
    """The fields pydantic-ai would read as templates (for lack of `pydantic-handlebars`, it
    raises `ImportError` instead), each with its problem."""
    problems = {}
    for key in TEMPLATED_FIELDS:
        value = spec_data.get(key)
        texts = value if isinstance(value, list) else [value]
        for index, text in enumerate(texts):
            if isinstance(text, str) and "{{" in text:
                pointer = f"/{key}/{index}" if isinstance(value, list) else f"/{key}"
                problems[key] = Problem(
                    pointer,
                    "`{{` starts a pydantic-ai template, which Switchboard agents do not use: "
                    "the launch form's answers go into `switchboard.prompt` as `{key}`; write "
                    "the text without `{{`",
                )
    return problems


class InvalidAnswersError(InvalidDocumentError):
    """The launch form's answers do not fit its questions; each problem names its question."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("the answers", problems)


def validate_answers(questions: list[Question], raw: dict[str, Any]) -> dict[str, Any]:
    """The answers, typed as their questions say, defaults filled in; unknown keys refused."""
    asked = {q.key for q in questions}
    problems = [Problem(f"/{key}", "no question has this key") for key in raw if key not in asked]
    answers: dict[str, Any] = {}
    for question in questions:
        value = raw.get(question.key, question.default)
        if value is None or value == "":
            if question.required:
                problems.append(Problem(f"/{question.key}", f"“{question.label}” is required"))
            answers[question.key] = None
            continue
        value = _coerce(question, value)
        problem = answer_problem(question, value)
        if not problem and isinstance(value, float) and not math.isfinite(value):
            # Checked here, not in `answer_problem`, which also reads stored documents' defaults.
            problem = "expected a finite number"
        if problem:
            problems.append(Problem(f"/{question.key}", problem))
        answers[question.key] = value
    if problems:
        raise InvalidAnswersError(problems)
    return answers


def _coerce(question: Question, value: Any) -> Any:
    """Form posts carry strings; turn the unambiguous ones into the question's type."""
    if not isinstance(value, str):
        return value
    if question.type == "number":
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    if question.type == "boolean" and value.lower() in {"true", "false", "on", "yes", "no"}:
        return value.lower() in {"true", "on", "yes"}
    return value


def answer_problem(question: Question, value: Any) -> str | None:
    """What is wrong with `value` as an answer to `question`, or `None`."""
    if question.type in ("string", "text", "date", "select") and not isinstance(value, str):
        return f"expected text, got {type(value).__name__}"
    if question.type == "number" and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        return "expected a number"
    if question.type == "boolean" and not isinstance(value, bool):
        return "expected true or false"
    if question.type == "string" and isinstance(value, str) and "\n" in value:
        return "expected one line"
    limit = 20_000 if question.type == "text" else 500
    if isinstance(value, str) and len(value) > limit:
        return f"at most {limit} characters"
    if question.type == "select" and value not in (question.options or []):
        return f"expected one of: {', '.join(question.options or [])}"
    if question.type == "date" and isinstance(value, str) and not _is_date(value):
        return "expected a date as YYYY-MM-DD"
    return None


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10
