"""Reading a document file, with the same error for every kind of document."""

from __future__ import annotations

from pathlib import Path

from registry.errors import InvalidDocumentError, Problem


def read_document(path: Path) -> bytes:
    """The file's bytes; an unreadable file is an invalid document named by its path."""
    try:
        return path.read_bytes()
    except OSError as exc:
        problem = Problem("", f"cannot read file: {exc.strerror}")
        raise InvalidDocumentError(str(path), [problem]) from exc
