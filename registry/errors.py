"""Errors a publisher, reviewer or operator can act on; `web/` maps them to HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass


class RegistryError(Exception):
    """Base of every error the catalogue raises on purpose."""

    status_code = 400


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where (a JSON pointer) and what is expected there."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class InvalidDocumentError(RegistryError):
    """A manifest or OpenAPI document that cannot be accepted, with every problem found in it."""

    status_code = 422

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source} is not valid:\n{lines}")


class NotFoundError(RegistryError):
    status_code = 404


class ConflictError(RegistryError):
    """The request would overwrite or contradict something already stored."""

    status_code = 409


class InvalidStateError(RegistryError):
    """The object exists but is not in a state that allows the operation."""

    status_code = 409
