import stat
from pathlib import Path

import pytest

from registry.secretbox import SecretBox, SecretKeyError, load_or_create_key


def test_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "secret.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key


def test_sealed_value_opens_only_in_its_own_context(tmp_path: Path) -> None:
    box = SecretBox(load_or_create_key(tmp_path / "k"))
    sealed = box.seal("a/b#TOKEN", "hunter2")
    assert b"hunter2" not in sealed
    assert box.open("a/b#TOKEN", sealed) == "hunter2"
    with pytest.raises(SecretKeyError, match="set it again"):
        box.open("a/c#TOKEN", sealed)


def test_another_key_cannot_open(tmp_path: Path) -> None:
    sealed = SecretBox(load_or_create_key(tmp_path / "k1")).seal("x", "v")
    with pytest.raises(SecretKeyError):
        SecretBox(load_or_create_key(tmp_path / "k2")).open("x", sealed)


def test_malformed_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("c2hvcnQ=\n")
    with pytest.raises(SecretKeyError, match="32-byte"):
        load_or_create_key(path)
