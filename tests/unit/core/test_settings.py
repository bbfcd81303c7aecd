from pathlib import Path

import pytest
from pydantic import ValidationError

from switchboard.settings import Settings, async_driver_url


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATA_DIR", "DATABASE_URL", "HOST", "PORT", "PUBLIC_URL"):
        monkeypatch.delenv(f"SWITCHBOARD_{name}", raising=False)
    settings = Settings()
    assert settings.data_dir == Path(".switchboard")
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_database_url.endswith(".switchboard/switchboard.db")
    assert settings.effective_public_url == "http://127.0.0.1:8080"
    assert settings.effective_secret_key_file == Path(".switchboard/secret.key")


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_PORT", "9000")
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", "postgresql://u:p@db/sb")
    settings = Settings()
    assert settings.port == 9000
    assert settings.effective_database_url == "postgresql+psycopg://u:p@db/sb"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgres://h/db", "postgresql+psycopg://h/db"),
        ("postgresql+psycopg://h/db", "postgresql+psycopg://h/db"),
    ],
)
def test_driver_mapping(url: str, expected: str) -> None:
    assert async_driver_url(url) == expected


def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", "switchboard.example.com")
    with pytest.raises(ValidationError, match="SWITCHBOARD_PUBLIC_URL must be an absolute"):
        Settings()
    monkeypatch.delenv("SWITCHBOARD_PUBLIC_URL")
    monkeypatch.setenv("SWITCHBOARD_PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        Settings()
