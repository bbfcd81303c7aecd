"""Egress failures a caller can act on."""

from __future__ import annotations

from sandboxes.errors import SandboxError


class EgressError(SandboxError):
    """An egress network or its proxy could not be set up or torn down; the message says why."""
