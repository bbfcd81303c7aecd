"""`server.json` manifests in the official MCP registry format, plus Switchboard's policy block.

Validated with pydantic models that mirror the registry's schema (2025-12-11) closely enough
that a manifest accepted by the official registry is accepted here, with two Switchboard
restrictions: only package types Switchboard can run (pypi, npm, oci) and only streamable-HTTP
remotes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from registry.documents import read_document
from registry.errors import InvalidDocumentError, Problem
from registry.pointers import json_pointer, problems_from_validation
from registry.policy import POLICY_KEY, Policy

SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$")
_VERSION_RANGE = re.compile(r"^[\^~<>=*]|[*x]$|\s|\|\|")


def _exact_version(value: str) -> str:
    if value == "latest" or _VERSION_RANGE.search(value):
        raise ValueError(f"{value!r} is not an exact version; pin one such as `1.2.3`")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)


class KeyValueInput(_Model):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    is_required: bool = Field(default=False, alias="isRequired")
    is_secret: bool = Field(default=False, alias="isSecret")
    default: str | None = None
    value: str | None = None


class Transport(_Model):
    type: Literal["stdio", "streamable-http", "sse"]
    url: str | None = None
    headers: list[KeyValueInput] = Field(default_factory=list)

    @model_validator(mode="after")
    def _url_for_http(self) -> Transport:
        if self.type != "stdio" and not self.url:
            raise ValueError(f"a `{self.type}` transport needs a `url`")
        return self


class Package(_Model):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    registry_type: Literal["pypi", "npm", "oci"] = Field(alias="registryType")
    registry_base_url: str | None = Field(default=None, alias="registryBaseUrl")
    identifier: str = Field(min_length=1, max_length=500)
    version: str = Field(min_length=1, max_length=255)
    file_sha256: str | None = Field(default=None, alias="fileSha256", pattern=r"^[a-f0-9]{64}$")
    runtime_hint: str | None = Field(default=None, alias="runtimeHint")
    transport: Transport
    runtime_arguments: list[dict[str, Any]] = Field(default_factory=list, alias="runtimeArguments")
    package_arguments: list[dict[str, Any]] = Field(default_factory=list, alias="packageArguments")
    environment_variables: list[KeyValueInput] = Field(
        default_factory=list, alias="environmentVariables"
    )

    _check_version = field_validator("version")(lambda cls, v: _exact_version(v))

    @field_validator("transport")
    @classmethod
    def _stdio_only(cls, transport: Transport) -> Transport:
        if transport.type != "stdio":
            raise ValueError(
                "Switchboard runs packages over `stdio`; list HTTP servers in `remotes`"
            )
        return transport


class Remote(_Model):
    type: Literal["streamable-http", "sse"]
    url: str = Field(pattern=r"^https?://")
    headers: list[KeyValueInput] = Field(default_factory=list)

    @field_validator("type")
    @classmethod
    def _streamable_only(cls, value: str) -> str:
        if value != "streamable-http":
            raise ValueError(
                "the SSE transport is deprecated; Switchboard proxies `streamable-http`"
            )
        return value


class Manifest(_Model):
    schema_url: str | None = Field(default=None, alias="$schema")
    name: str = Field(min_length=3, max_length=200)
    title: str | None = Field(default=None, max_length=100)
    description: str = Field(min_length=1, max_length=100)
    version: str = Field(min_length=1, max_length=255)
    website_url: str | None = Field(default=None, alias="websiteUrl")
    repository: dict[str, Any] | None = None
    packages: list[Package] = Field(default_factory=list)
    remotes: list[Remote] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict, alias="_meta")

    _check_version = field_validator("version")(lambda cls, v: _exact_version(v))

    @field_validator("name")
    @classmethod
    def _reverse_dns(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                f"{value!r} is not a reverse-DNS name with one slash, such as `com.example/weather`"
            )
        return value

    @model_validator(mode="after")
    def _something_to_run(self) -> Manifest:
        if not self.packages and not self.remotes:
            raise ValueError("declare at least one entry in `packages` or `remotes`")
        return self

    @property
    def environment(self) -> list[KeyValueInput]:
        return [var for package in self.packages for var in package.environment_variables]


class ParsedManifest(BaseModel):
    """A validated manifest with its policy, and the secrets it needs."""

    manifest: Manifest
    policy: Policy
    document: dict[str, Any]

    @property
    def secret_names(self) -> list[str]:
        declared = {v.name for v in self.manifest.environment if v.is_secret}
        headers = {h.name for r in self.manifest.remotes for h in r.headers if h.is_secret}
        return sorted(declared | headers | set(self.policy.secrets))


def read_manifest(path: Path) -> ParsedManifest:
    """Read and validate a manifest file; every problem is reported with its JSON pointer."""
    return parse_manifest(read_document(path), str(path))


def parse_manifest(data: bytes | str | dict[str, Any], source: str) -> ParsedManifest:
    if isinstance(data, dict):
        document = data
    else:
        try:
            document = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidDocumentError(
                source,
                [
                    Problem(
                        "", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
                    )
                ],
            ) from exc
    if not isinstance(document, dict):
        raise InvalidDocumentError(source, [Problem("", "expected a JSON object (a server.json)")])

    problems: list[Problem] = []
    manifest: Manifest | None = None
    policy: Policy | None = None
    try:
        manifest = Manifest.model_validate(document)
    except ValidationError as exc:
        problems += problems_from_validation(exc)

    meta = document.get("_meta", {})
    raw_policy = meta.get(POLICY_KEY, {}) if isinstance(meta, dict) else {}
    policy_at = ["_meta", POLICY_KEY]
    if not isinstance(raw_policy, dict):
        problems.append(Problem(json_pointer(policy_at), "expected an object of policy settings"))
    else:
        try:
            policy = Policy.model_validate(raw_policy)
        except ValidationError as exc:
            problems += problems_from_validation(exc, policy_at)

    if manifest is not None and policy is not None:
        declared = {v.name for v in manifest.environment}
        for index, name in enumerate(policy.secrets):
            if name not in declared:
                problems.append(
                    Problem(
                        json_pointer([*policy_at, "secrets", index]),
                        f"{name!r} is not a declared environment variable of any package; "
                        f"declared: {sorted(declared) or 'none'}",
                    )
                )
    if problems or manifest is None or policy is None:
        raise InvalidDocumentError(source, problems)
    return ParsedManifest(manifest=manifest, policy=policy, document=document)
