"""Turning PyPI's JSON documents into the tools' models.

PyPI's fields are often null or missing (older uploads), so every lookup has a default.
"""

from __future__ import annotations

import re
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from switchboard_example_pypi_info.models import Dependency, PackageInfo, Release, Vulnerability

_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")
_NAME_PREFIX = re.compile(r"^[A-Za-z0-9._-]+")


def package_info(document: dict[str, Any]) -> PackageInfo:
    info: dict[str, Any] = document["info"]
    return PackageInfo(
        name=str(info.get("name") or ""),
        version=str(info.get("version") or ""),
        summary=info.get("summary") or None,
        requires_python=info.get("requires_python") or None,
        license=info.get("license_expression") or _short(info.get("license")),
        author=info.get("author") or info.get("author_email") or None,
        home_page=info.get("home_page") or None,
        project_urls={str(k): str(v) for k, v in (info.get("project_urls") or {}).items()},
        package_url=str(info.get("package_url") or info.get("project_url") or ""),
        yanked=bool(info.get("yanked")),
        yanked_reason=info.get("yanked_reason") or None,
        extras=sorted(info.get("provides_extra") or []),
        dependencies=[dependency(entry) for entry in info.get("requires_dist") or []],
        vulnerabilities=[_vulnerability(v) for v in document.get("vulnerabilities") or []],
    )


def _short(license_text: object) -> str | None:
    """The `license` field sometimes holds the whole licence text; keep its first line."""
    if not isinstance(license_text, str) or not license_text.strip():
        return None
    first = license_text.strip().splitlines()[0]
    return first if len(first) <= 120 else first[:117] + "..."


def dependency(entry: str) -> Dependency:
    try:
        requirement = Requirement(entry)
    except InvalidRequirement:
        name = _NAME_PREFIX.match(entry.strip())
        return Dependency(
            requirement=entry,
            name=name.group(0) if name else entry,
            specifier="",
            extras=[],
            marker=None,
            for_extra=None,
        )
    marker = str(requirement.marker) if requirement.marker else None
    extra = _EXTRA.search(marker) if marker else None
    return Dependency(
        requirement=entry,
        name=requirement.name,
        specifier=str(requirement.specifier),
        extras=sorted(requirement.extras),
        marker=marker,
        for_extra=extra.group(1) if extra else None,
    )


def _vulnerability(entry: dict[str, Any]) -> Vulnerability:
    return Vulnerability(
        id=str(entry.get("id") or ""),
        aliases=[str(a) for a in entry.get("aliases") or []],
        fixed_in=[str(v) for v in entry.get("fixed_in") or []],
        link=entry.get("link") or None,
    )


def releases(document: dict[str, Any]) -> list[tuple[Version, Release]]:
    """Every release with a PEP 440 version, newest first; legacy version strings are skipped."""
    found: list[tuple[Version, Release]] = []
    for text, files in (document.get("releases") or {}).items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        times = sorted(f["upload_time_iso_8601"] for f in files if f.get("upload_time_iso_8601"))
        pythons = [f["requires_python"] for f in files if f.get("requires_python")]
        release = Release(
            version=text,
            upload_time=times[0] if times else None,
            requires_python=pythons[0] if pythons else None,
            yanked=bool(files) and all(f.get("yanked") for f in files),
            prerelease=version.is_prerelease,
        )
        found.append((version, release))
    found.sort(key=lambda pair: pair[0], reverse=True)
    return found
