"""Publishing a new server version: from a manifest or from an OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.errors import ConflictError, InvalidDocumentError, Problem, RegistryError
from registry.journal import note
from registry.manifest import NAME_PATTERN, ParsedManifest, _exact_version
from registry.models import (
    ReviewEvent,
    ReviewStatus,
    Server,
    ServerKind,
    ServerVersion,
    Team,
    Tool,
    User,
    pk,
)
from registry.openapi import OpenAPIImport, load_openapi, tools_from_openapi
from registry.openapi.servers import egress_entry, resolve, url_refusal
from registry.policy import Policy
from registry.tooldefs import ToolDefinition, definitions_digest

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_VERSION_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def derive_slug(name: str) -> str:
    """`com.example/Weather.API` -> `weather-api`: the short prefix of a server's tool names."""
    tail = name.rsplit("/", 1)[-1].lower()
    return re.sub(r"[^a-z0-9_-]+", "-", tail).strip("-_")[:32] or "server"


async def publish_manifest(
    session: AsyncSession,
    parsed: ParsedManifest,
    *,
    team: Team,
    actor: User,
    slug: str | None = None,
    discover: bool = False,
) -> ServerVersion:
    """Record what the manifest declares as a new version; its tools come with discovery.

    The version is `building` when its tools are to be discovered next (from a sandbox of its
    package, or from its remote), else `pending` with the manifest alone (discovery declined).
    """
    manifest = parsed.manifest
    return await _publish(
        session,
        name=manifest.name,
        kind=ServerKind.mcp,
        version=manifest.version,
        description=manifest.description,
        document=parsed.document,
        policy=parsed.policy.model_copy(update={"secrets": parsed.secret_names}),
        tools=[],
        team=team,
        actor=actor,
        slug=slug,
        status=ReviewStatus.building if discover else ReviewStatus.pending,
    )


async def publish_openapi(
    session: AsyncSession,
    *,
    name: str,
    version: str,
    description: str,
    document: dict[str, Any],
    policy: Policy,
    tools: list[ToolDefinition],
    team: Team,
    actor: User,
    slug: str | None = None,
) -> ServerVersion:
    return await _publish(
        session,
        name=name,
        kind=ServerKind.openapi,
        version=version,
        description=description,
        document=document,
        policy=policy,
        tools=tools,
        team=team,
        actor=actor,
        slug=slug,
    )


async def _publish(
    session: AsyncSession,
    *,
    name: str,
    kind: ServerKind,
    version: str,
    description: str,
    document: dict[str, Any],
    policy: Policy,
    tools: list[ToolDefinition],
    team: Team,
    actor: User,
    slug: str | None,
    status: ReviewStatus = ReviewStatus.pending,
) -> ServerVersion:
    server = await _server_for(session, name=name, kind=kind, team=team, slug=slug)
    existing = await session.exec(
        select(ServerVersion.id).where(
            ServerVersion.server_id == pk(server), ServerVersion.version == version
        )
    )
    if existing.first() is not None:
        raise ConflictError(
            f"{name} version {version} is already published; versions are immutable, "
            "publish a new version number instead"
        )
    row = ServerVersion(
        server_id=pk(server),
        version=version,
        description=description,
        document=document,
        policy=policy.document(),
        status=status,
        published_by_id=pk(actor),
    )
    session.add(row)
    await session.flush()
    store_tools(session, row, tools, policy.tool_scopes)
    session.add(
        ReviewEvent(
            version_id=pk(row),
            to_status=status,
            actor_id=pk(actor),
            reason="published",
        )
    )
    await session.flush()
    note(session, actor.username, "server.publish", f"{name}@{version}", kind=str(kind))
    return row


def store_tools(
    session: AsyncSession,
    version: ServerVersion,
    tools: list[ToolDefinition],
    tool_scopes: dict[str, list[str]],
) -> None:
    """Tool rows with the policy's extra scopes merged in, and the version's digest."""
    version.tools_digest = definitions_digest(tools) if tools else None
    session.add(version)
    session.add_all(
        Tool(
            version_id=pk(version),
            name=tool.name,
            definition=tool.wire(),
            scopes=sorted(set(tool.scopes) | set(tool_scopes.get(tool.name, []))),
            binding=tool.binding,
        )
        for tool in tools
    )


async def _server_for(
    session: AsyncSession, *, name: str, kind: ServerKind, team: Team, slug: str | None
) -> Server:
    server = (await session.exec(select(Server).where(Server.name == name))).first()
    if server is not None:
        if server.kind != kind:
            raise ConflictError(f"{name} is an existing {server.kind} server, not {kind}")
        if server.owner_team_id != team.id:
            owner = await session.get(Team, server.owner_team_id)
            raise ConflictError(
                f"{name} is owned by team {owner.name if owner else '?'!r}; "
                "publish new versions as that team"
            )
        if slug is not None and slug != server.slug:
            raise ConflictError(
                f"{name} already has the slug {server.slug!r}; a slug never changes"
            )
        return server

    slug = slug or derive_slug(name)
    if not SLUG_PATTERN.match(slug):
        raise RegistryError(
            f"slug {slug!r} is invalid: use 1-32 lowercase letters, digits, `-` or `_`"
        )
    taken = (await session.exec(select(Server.name).where(Server.slug == slug))).first()
    if taken is not None:
        raise ConflictError(f"slug {slug!r} is taken by {taken}; choose another with `--slug`")
    server = Server(name=name, slug=slug, kind=kind, owner_team_id=pk(team))
    session.add(server)
    await session.flush()
    return server


async def import_openapi(
    session: AsyncSession,
    data: bytes,
    *,
    source: str,
    name: str,
    team: Team,
    actor: User,
    version: str | None = None,
    slug: str | None = None,
    base_url: str | None = None,
) -> ServerVersion:
    """One tool per operation; the API's host is the only egress, its auth schemes secrets."""
    if not (NAME_PATTERN.match(name) or SLUG_PATTERN.match(name)):
        raise RegistryError(
            f"name {name!r} is invalid: use a reverse-DNS name such as `com.example/tasks` "
            "or a short lowercase name such as `tasks`"
        )
    document = load_openapi(data, source)
    imported = tools_from_openapi(document, source)
    version = _openapi_version(version, imported.version, source)
    base, base_at = _base_url(imported, source, base_url)
    tools = [_calling(tool, base) for tool in imported.tools]
    return await publish_openapi(
        session,
        name=name,
        version=version,
        description=_one_line_summary(document.get("info", {}), imported.title),
        document=document,
        policy=Policy(
            egress=_egress(_called_urls(base, base_at, tools), source),
            secrets=sorted(imported.security_schemes),
        ),
        tools=tools,
        team=team,
        actor=actor,
        slug=slug,
    )


def _openapi_version(explicit: str | None, declared: str, source: str) -> str:
    """`--version`, else `info.version`, checked before anything is stored."""
    version = explicit or declared
    refusal = _version_refusal(version)
    if refusal is None:
        return version
    if explicit:
        raise RegistryError(f"--version {version!r} {refusal}; pass one such as `1.2.3`")
    problem = Problem(
        "/info/version", f"{version!r} {refusal}; pass one such as `1.2.3` with `--version`"
    )
    raise InvalidDocumentError(source, [problem])


def _version_refusal(version: str) -> str | None:
    """Why `version` cannot be recorded: the manifest's rules, plus only the characters that
    API paths (`/versions/{version}`) and `NAME@VERSION` references can hold."""
    if len(version) > 255:
        return "is longer than 255 characters"
    try:
        _exact_version(version)
    except ValueError:
        return "is not an exact version"
    if not _VERSION_TEXT.match(version):
        return (
            "may hold only letters, digits, `.`, `_`, `+` and `-`, and must start with a letter "
            "or digit"
        )
    return None


def _calling(tool: ToolDefinition, base: str) -> ToolDefinition:
    """`tool` bound to its own servers, relative ones resolved against `base`, or else to `base`."""
    if tool.binding is None:
        return tool
    servers = tool.binding.get("servers")
    update = {"servers": [resolve(url, base) for url in servers]} if servers else {"baseUrl": base}
    return tool.model_copy(update={"binding": {**tool.binding, **update}})


def _called_urls(base: str, base_at: str, tools: list[ToolDefinition]) -> dict[str, str]:
    """Every URL the tools call, each with where it came from (for error messages)."""
    urls = {base: base_at}
    for tool in tools:
        for url in (tool.binding or {}).get("servers", []):
            urls.setdefault(url, f"servers of operation {tool.name}")
    return urls


def _egress(urls: dict[str, str], source: str) -> list[str]:
    """The egress entries `urls` need; a URL no sandbox can reach is a problem where it came
    from."""
    hosts: dict[str, str] = {}
    problems = []
    for url, where in urls.items():
        refusal = url_refusal(url)
        if refusal is None:
            hosts.setdefault(egress_entry(url), where)
        else:
            problems.append(Problem(where, f"server URL {url!r} {refusal}"))
    for host, where in hosts.items():
        try:
            Policy(egress=[host])
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
            problems.append(
                Problem(
                    where,
                    f"{reason}. Sandboxes never reach loopback, private or internal hosts: "
                    "pass the API's public hostname with `--base-url`",
                )
            )
    if problems:
        raise InvalidDocumentError(source, problems)
    return sorted(hosts)


def _base_url(imported: OpenAPIImport, source: str, override: str | None) -> tuple[str, str]:
    """The URL calls go to, and where it came from (for error messages)."""
    if override is not None:
        refusal = url_refusal(override)
        if refusal is not None:
            raise RegistryError(f"--base-url {override!r} {refusal}")
        return override.rstrip("/"), "--base-url"
    if not imported.servers:
        raise InvalidDocumentError(
            source,
            [Problem("/servers", "no absolute server URL; add one or pass `--base-url`")],
        )
    return imported.servers[0], "/servers/0/url"


def _one_line_summary(info: dict[str, Any], title: str) -> str:
    """`info.summary`, else the first paragraph of `info.description`, else the title."""
    summary = info.get("summary") or (info.get("description") or "").strip().split("\n\n")[0]
    text = " ".join(str(summary).split()) or title
    return text if len(text) <= 300 else text[:299] + "…"
