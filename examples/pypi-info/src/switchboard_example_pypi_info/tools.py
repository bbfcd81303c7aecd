"""The PyPI tools, bound to one client so tests can point them at a local server."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import Field

from switchboard_example_pypi_info import metadata
from switchboard_example_pypi_info.client import PyPIClient, check_version
from switchboard_example_pypi_info.models import PackageInfo, ReleaseList, SpecifierCheck

PackageName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="Distribution name on PyPI, e.g. `requests` or `pydantic-core`.",
    ),
]
SpecifierText = Annotated[
    str, Field(max_length=500, description="PEP 440 specifier, e.g. `>=2.0,<3` or `~=1.4`.")
]


def parse_specifier(text: str) -> SpecifierSet:
    try:
        return SpecifierSet(text.strip())
    except InvalidSpecifier:
        raise ToolError(f"{text!r} is not a PEP 440 specifier such as `>=2.0,<3`") from None


class PyPITools:
    """Read-only questions about packages on PyPI; every method is one MCP tool."""

    def __init__(self, client: PyPIClient) -> None:
        self._client = client

    async def package_info(
        self,
        name: PackageName,
        version: Annotated[
            str | None,
            Field(max_length=100, description="A release such as `2.31.0`; omit for the latest."),
        ] = None,
    ) -> PackageInfo:
        """Look up a package on PyPI: summary, supported Python, licence, links, dependencies
        (with the extras and markers that select them) and known vulnerabilities."""
        if version is None:
            document = await self._client.project(name)
        else:
            document = await self._client.release(name, version)
        return metadata.package_info(document)

    async def package_releases(
        self,
        name: PackageName,
        specifier: SpecifierText = "",
        include_prereleases: Annotated[
            bool, Field(description="Also list alpha, beta and release-candidate versions.")
        ] = False,
        include_yanked: Annotated[bool, Field(description="Also list withdrawn releases.")] = False,
        limit: Annotated[int, Field(ge=1, le=500, description="Most releases to return.")] = 50,
    ) -> ReleaseList:
        """List a package's releases newest first, optionally only those matching a specifier;
        `latest_match` answers "which is the newest version I may use?"."""
        wanted = parse_specifier(specifier)
        document = await self._client.project(name)
        matching = [
            release
            for version, release in metadata.releases(document)
            if (include_yanked or not release.yanked)
            and wanted.contains(version, prereleases=include_prereleases)
        ]
        latest = next((r.version for r in matching if not r.yanked), None)
        return ReleaseList(
            name=str(document["info"].get("name") or name),
            specifier=str(wanted),
            latest_match=latest,
            total=len(matching),
            releases=matching[:limit],
        )

    def version_satisfies(
        self,
        version: Annotated[str, Field(max_length=100, description="A version such as `1.4.2`.")],
        specifier: SpecifierText,
        include_prereleases: Annotated[
            bool | None,
            Field(
                description="Whether a pre-release can match; by default only if the specifier "
                "itself names one (PEP 440)."
            ),
        ] = None,
    ) -> SpecifierCheck:
        """Check whether a version satisfies a PEP 440 specifier, and which clauses fail."""
        parsed, wanted = check_version(version), parse_specifier(specifier)
        # Decided here rather than left to `packaging`, whose default changed between releases.
        allow = bool(wanted.prereleases) if include_prereleases is None else include_prereleases
        failing = [str(c) for c in wanted if not c.contains(parsed, prereleases=True)]
        satisfied = wanted.contains(parsed, prereleases=allow)
        if satisfied:
            explanation = f"{parsed} satisfies {str(wanted) or 'the empty specifier'}"
        elif failing:
            explanation = f"{parsed} fails {', '.join(failing)}"
        else:
            explanation = f"{parsed} is a pre-release; set `include_prereleases` to accept it"
        return SpecifierCheck(
            version=str(parsed),
            specifier=str(wanted),
            satisfied=satisfied,
            prerelease=parsed.is_prerelease,
            failing_clauses=failing,
            explanation=explanation,
        )
