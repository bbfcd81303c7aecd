"""A whole OpenAPI document to what the catalogue stores: tools, servers, egress hosts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.errors import InvalidDocumentError, Problem
from registry.openapi.operations import Context, operation_tools
from registry.openapi.refs import Resolver
from registry.openapi.schemas import SchemaConverter
from registry.openapi.security import security_schemes
from registry.openapi.servers import hostname, is_absolute, server_urls
from registry.openapi.structure import check_structure, is_openapi30
from registry.tooldefs import ToolDefinition


@dataclass(frozen=True)
class OpenAPIImport:
    """The tools of one OpenAPI document and what calling them needs."""

    title: str
    version: str
    """`info.version`: the API's version, not the OpenAPI version."""
    description: str | None
    servers: list[str]
    """Absolute server URLs, variables set to their defaults; relative ones are left out."""
    egress_hosts: list[str]
    """Hostnames of `servers` and of servers single operations or path items declare."""
    security_schemes: dict[str, dict[str, Any]]
    tools: list[ToolDefinition]


def tools_from_openapi(document: dict[str, Any], source: str) -> OpenAPIImport:
    """One tool per operation; every problem found is raised together as InvalidDocumentError."""
    problems = check_structure(document)
    if problems:
        raise InvalidDocumentError(source, problems)
    resolver = Resolver(document, problems)
    schemes = security_schemes(document, resolver, problems)
    declared = server_urls(document.get("servers", []), ("servers",), problems)
    servers = [url for url in declared if is_absolute(url)]
    schemas = SchemaConverter(resolver, is_openapi30(document), problems)
    context = Context(resolver, schemas, schemes, document.get("security", []), problems)
    try:
        tools = operation_tools(document["paths"], context)
    except RecursionError:
        problems.append(Problem("", "schemas are nested too deeply; use `$ref`s to flatten them"))
        tools = []
    if not tools and not problems:
        problems.append(Problem("/paths", "no operations found; declare at least one"))
    if problems:
        raise InvalidDocumentError(source, list(dict.fromkeys(problems)))
    operation_servers = [url for t in tools for url in (t.binding or {}).get("servers", [])]
    description = document["info"].get("description")
    return OpenAPIImport(
        title=document["info"]["title"],
        version=document["info"]["version"],
        description=description if isinstance(description, str) else None,
        servers=servers,
        egress_hosts=list(
            dict.fromkeys(host for url in servers + operation_servers if (host := hostname(url)))
        ),
        security_schemes=schemes,
        tools=tools,
    )
