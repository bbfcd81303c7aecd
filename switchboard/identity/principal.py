"""Who is making a request, however they proved it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from registry.models import Role

Via = Literal["session", "oauth", "pat", "cli"]


@dataclass(frozen=True)
class Principal:
    username: str
    user_id: int
    role: Role
    scopes: frozenset[str]
    """What the credential carries; grants still narrow it on every request."""
    via: Via
    client_id: str | None = None
    on_behalf_of: str | None = None
    credential_id: str | None = None
    """The token's `jti` or the PAT's id: what the audit log names as the credential."""
