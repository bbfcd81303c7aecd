"""The model file: errors name the field, `default` falls back to the local model."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest

from agents.models.config import ModelsFileError, load_models_file, parse_config
from agents.models.failures import retry_after
from agents.models.ledger import next_period, period_start


def test_no_file_routes_default_to_the_local_model() -> None:
    config = parse_config(None, "nothing").with_default()
    (deployment,) = config.aliases["default"].deployments
    assert deployment.provider == "local"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {
                "aliases": {
                    "a": {
                        "deployments": [
                            {"provider": "azure-openai", "model": "m", "api_key_env": "K"}
                        ]
                    }
                }
            },
            "aliases.a.deployments[0]: `base_url` is required for provider `azure-openai`",
        ),
        (
            {"aliases": {"a": {"deployments": [{"provider": "openai", "model": "m"}]}}},
            "aliases.a.deployments[0]: provider `openai` needs an API key",
        ),
        (
            {
                "aliases": {
                    "a": {
                        "deployments": [
                            {"provider": "openai", "model": "m", "api_key_env": "not a name"}
                        ]
                    }
                }
            },
            "aliases.a.deployments[0].api_key_env: String should match pattern",
        ),
        ({"aliases": {"a": {"deployments": []}}}, "aliases.a.deployments: List should have"),
        ({"teams": {"t": {"budget": -1}}}, "teams.t.budget: Input should be greater than"),
        ({"retry": 3}, "retry: Extra inputs are not permitted"),
    ],
)
def test_errors_name_the_field(document: dict[str, object], message: str) -> None:
    with pytest.raises(ModelsFileError, match=r"models\.yaml is not a valid model file") as error:
        parse_config(document, "models.yaml")
    assert message in str(error.value)


def test_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        "aliases:\n  default:\n    deployments:\n      - provider: openai-compatible\n"
        "        model: llama\n        base_url: http://ollama:11434/v1\n"
    )
    config = load_models_file(path).with_default()
    assert config.aliases["default"].deployments[0].label == "openai-compatible/llama"
    path.write_text("aliases: [")
    with pytest.raises(ModelsFileError, match="is not valid YAML"):
        load_models_file(path)


def test_retry_after_forms() -> None:
    assert retry_after(httpx2.Headers({"retry-after": "2"})) == 2.0
    assert retry_after(httpx2.Headers({"retry-after-ms": "250"})) == 0.25
    assert retry_after(httpx2.Headers({})) is None


def test_budget_periods() -> None:
    moment = datetime(2026, 12, 31, 15, 0, tzinfo=UTC)
    assert period_start("month", moment) == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_period("month", moment) == datetime(2027, 1, 1, tzinfo=UTC)
    assert next_period("day", moment) == datetime(2027, 1, 1, tzinfo=UTC)
