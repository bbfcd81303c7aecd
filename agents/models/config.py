"""The model file: aliases, their ordered deployments, team limits and routing knobs.

A model alias is what agent specs and `/v1` clients name; it maps to deployments (a provider,
a model there, a weight, a key, a timeout and prices) tried in order, or in weighted random order.
The file is YAML (`SWITCHBOARD_MODELS_FILE`); the JSON API can replace it in the database. With
neither, and whenever `default` is not defined, `default` is the embedded local model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ProviderKind = Literal["openai", "anthropic", "azure-openai", "openai-compatible", "local"]
DEFAULT_ALIAS = "default"
OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com"
AZURE_API_VERSION = "2024-10-21"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deployment(Strict):
    """One place a model can be called."""

    provider: ProviderKind
    model: str = Field(min_length=1, max_length=256, description="The model's name there.")
    name: str | None = Field(
        default=None,
        max_length=128,
        description="Name in usage records, audit and cooldowns. Default: `provider/model`.",
    )
    base_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="API root: required for `openai-compatible` (such as `http://vllm:8000/v1`) "
        "and `azure-openai` (`https://NAME.openai.azure.com`).",
    )
    api_version: str = Field(default=AZURE_API_VERSION, description="Azure OpenAI `api-version`.")
    api_key_env: str | None = Field(
        default=None, pattern=ENV_NAME, description="Environment variable holding the API key."
    )
    api_key_secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Name of a model secret stored with `PUT /api/v1/models/secrets/{name}`.",
    )
    weight: float = Field(default=1.0, gt=0, description="Share of traffic under `weighted`.")
    timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    input_price: float = Field(default=0.0, ge=0, description="Cost per 1M input tokens.")
    output_price: float = Field(default=0.0, ge=0, description="Cost per 1M output tokens.")

    @model_validator(mode="after")
    def _check(self) -> Deployment:
        if self.provider in ("openai-compatible", "azure-openai") and self.base_url is None:
            raise ValueError(f"`base_url` is required for provider `{self.provider}`")
        if self.api_key_env is not None and self.api_key_secret is not None:
            raise ValueError("give `api_key_env` or `api_key_secret`, not both")
        needs_key = self.provider in ("openai", "anthropic", "azure-openai")
        if needs_key and self.api_key_env is None and self.api_key_secret is None:
            raise ValueError(
                f"provider `{self.provider}` needs an API key: set `api_key_env` (an environment "
                "variable's name) or `api_key_secret` (a stored model secret's name)"
            )
        return self

    @property
    def label(self) -> str:
        return self.name or f"{self.provider}/{self.model}"

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_price + output_tokens * self.output_price) / 1_000_000


class ModelAlias(Strict):
    deployments: list[Deployment] = Field(min_length=1)
    strategy: Literal["ordered", "weighted"] = Field(
        default="ordered",
        description="`ordered`: first deployment first; `weighted`: random order by weight.",
    )


class TeamLimits(Strict):
    budget: float | None = Field(default=None, ge=0, description="Cost allowed per period.")
    period: Literal["day", "month"] = "month"
    rpm: int | None = Field(default=None, ge=1, description="Requests per minute.")
    tpm: int | None = Field(default=None, ge=1, description="Tokens (in + out) per minute.")


class ModelsConfig(Strict):
    aliases: dict[str, ModelAlias] = Field(default_factory=dict)
    teams: dict[str, TeamLimits] = Field(default_factory=dict)
    retries: int = Field(default=2, ge=0, le=10, description="Retries per deployment.")
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    max_backoff_seconds: float = Field(
        default=8.0,
        ge=0,
        le=600,
        description="Longest wait before a retry; a longer "
        "`Retry-After` moves on to the next deployment instead.",
    )
    cooldown_seconds: float = Field(
        default=30.0, ge=0, le=3600, description="How long a failing deployment is tried last."
    )

    @model_validator(mode="after")
    def _check_alias_names(self) -> ModelsConfig:
        for name in self.aliases:
            if not name or len(name) > 128 or any(c.isspace() for c in name):
                raise ValueError(f"alias {name!r} must be 1-128 characters without spaces")
        return self

    def with_default(self) -> ModelsConfig:
        """This configuration, with `default` routed to the local model unless it is defined."""
        if DEFAULT_ALIAS in self.aliases:
            return self
        local = ModelAlias(deployments=[Deployment(provider="local", model="local")])
        return self.model_copy(update={"aliases": {**self.aliases, DEFAULT_ALIAS: local}})

    def deployment_labels(self) -> set[str]:
        return {d.label for alias in self.aliases.values() for d in alias.deployments}


class ModelsFileError(ValueError):
    """The model file cannot be used; the message names the file and each bad field."""


def field_path(location: tuple[int | str, ...]) -> str:
    """`aliases.default.deployments[0].base_url`, as a person would name the field."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def describe(error: ValidationError) -> str:
    return "; ".join(
        f"{field_path(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
        for e in error.errors()
    )


def parse_config(document: Any, source: str) -> ModelsConfig:
    try:
        return ModelsConfig.model_validate(document if document is not None else {})
    except ValidationError as exc:
        raise ModelsFileError(f"{source} is not a valid model file: {describe(exc)}") from None


def load_models_file(path: Path) -> ModelsConfig:
    """Read and validate the YAML model file (blocking: call it in a worker thread)."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ModelsFileError(f"cannot read the model file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ModelsFileError(f"{path} is not valid YAML: {exc}") from None
    return parse_config(document, str(path))
