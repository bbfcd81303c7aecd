"""Switchboard's policy block in a manifest: `_meta["dev.switchboard/policy"]`."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

POLICY_KEY = "dev.switchboard/policy"

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
_SCOPE = re.compile(r"^[A-Za-z0-9:._/*-]{1,128}$")
_FORBIDDEN_HOSTS = {"localhost", "metadata.google.internal", "host.docker.internal"}


def _egress_host(value: str) -> str:
    """A public hostname, optionally `:port`; addresses and internal names are never egress."""
    host, _, port = value.lower().rpartition(":") if ":" in value else (value.lower(), "", "")
    if port and (not port.isdigit() or not 0 < int(port) < 65536):
        raise ValueError(f"{value!r} has an invalid port; use `host` or `host:port`")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValueError(f"{value!r} is an IP address; egress names hostnames only")
    if not _HOSTNAME.match(host) or "." not in host:
        raise ValueError(f"{value!r} is not a fully qualified hostname such as `api.example.com`")
    if host in _FORBIDDEN_HOSTS or host.endswith((".local", ".internal", ".localhost")):
        raise ValueError(f"{value!r} is an internal name; sandboxes never reach internal hosts")
    return value.lower()


def _scope(value: str) -> str:
    if not _SCOPE.match(value):
        raise ValueError(f"{value!r} is not a valid scope: use letters, digits and `:._/-*`")
    return value


Scope = Annotated[str, AfterValidator(_scope)]


class Policy(BaseModel):
    """Limits and permissions a server runs with; every field has a safe default."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    egress: list[Annotated[str, AfterValidator(_egress_host)]] = Field(default_factory=list)
    memory_mb: int = Field(default=256, ge=32, le=8192, alias="memoryMb")
    cpus: float = Field(default=1.0, gt=0, le=8)
    pids_limit: int = Field(default=64, ge=8, le=4096, alias="pidsLimit")
    call_timeout_seconds: float = Field(default=30, gt=0, le=600, alias="callTimeoutSeconds")
    tool_scopes: dict[str, list[Scope]] = Field(default_factory=dict, alias="toolScopes")
    secrets: list[str] = Field(default_factory=list)
    audit_arguments: bool = Field(default=False, alias="auditArguments")
    """Keep each call's arguments in the audit log; by default only their digest is kept."""

    def document(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)
