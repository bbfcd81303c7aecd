"""What the PyPI tools return; field descriptions become each tool's output schema."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Dependency(BaseModel):
    """One `Requires-Dist` entry of a release."""

    requirement: str = Field(description="The requirement as published, e.g. `idna>=2.5; ...`.")
    name: str = Field(description="Distribution name of the dependency.")
    specifier: str = Field(description="Version specifier, empty when any version will do.")
    extras: list[str] = Field(description="Extras of the dependency that are requested.")
    marker: str | None = Field(description="Environment marker, e.g. `python_version < '3.11'`.")
    for_extra: str | None = Field(
        description="The extra of this package that pulls the dependency in; null if always."
    )


class Vulnerability(BaseModel):
    """A known vulnerability PyPI reports for the release."""

    id: str
    aliases: list[str] = Field(description="Other identifiers, e.g. CVE numbers.")
    fixed_in: list[str] = Field(description="Releases that fix it.")
    link: str | None = None


class PackageInfo(BaseModel):
    """Metadata of one release of a package on PyPI."""

    name: str = Field(description="The project's name as registered on PyPI.")
    version: str = Field(description="The release described: the latest, unless one was asked.")
    summary: str | None
    requires_python: str | None = Field(description="Supported Python versions, e.g. `>=3.9`.")
    license: str | None
    author: str | None
    home_page: str | None
    project_urls: dict[str, str] = Field(description="Labelled links: documentation, source...")
    package_url: str = Field(description="The project's page on PyPI.")
    yanked: bool = Field(description="Whether the release was withdrawn.")
    yanked_reason: str | None
    extras: list[str] = Field(description="Optional feature sets (`pkg[extra]`) it offers.")
    dependencies: list[Dependency]
    vulnerabilities: list[Vulnerability]


class Release(BaseModel):
    """One release in a project's history."""

    version: str
    upload_time: str | None = Field(description="First upload, ISO 8601; null if no files.")
    requires_python: str | None
    yanked: bool
    prerelease: bool


class ReleaseList(BaseModel):
    """A project's releases that match a specifier, newest first."""

    name: str
    specifier: str = Field(description="The specifier applied; empty matches every release.")
    latest_match: str | None = Field(
        description="The newest matching release that is not yanked; null if none."
    )
    total: int = Field(description="How many releases match, before `limit` was applied.")
    releases: list[Release]


class SpecifierCheck(BaseModel):
    """Whether a version satisfies a PEP 440 specifier."""

    version: str = Field(description="The version, normalized per PEP 440.")
    specifier: str = Field(description="The specifier, normalized.")
    satisfied: bool
    prerelease: bool = Field(description="Whether the version is a pre-release.")
    failing_clauses: list[str] = Field(
        description="Clauses of the specifier the version does not meet."
    )
    explanation: str = Field(description="The verdict in one sentence.")
