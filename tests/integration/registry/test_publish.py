from __future__ import annotations

import json
from typing import Any

import pytest

from registry import publishing, review
from registry.errors import ConflictError, InvalidDocumentError, RegistryError
from registry.lookup import get_version, load_tools
from registry.manifest import ParsedManifest, parse_manifest
from registry.models import ReviewStatus, ServerVersion, Team, User, pk
from registry.teams import create_team
from registry.tooldefs import definitions_digest
from switchboard.services import Services
from tests.integration.registry.conftest import FIXTURES, count_rows

ROOT = FIXTURES.parents[1]


async def test_publish_records_a_pending_version(
    services: Services, people: tuple[Team, User], time_manifest: ParsedManifest
) -> None:
    team, alice = people
    async with services.transaction() as session:
        version = await publishing.publish_manifest(session, time_manifest, team=team, actor=alice)
    async with services.sessions() as session:
        server, stored = await get_version(session, "time@2025.9.25")
    assert server.slug == "time"
    assert server.owner_team_id == team.id
    assert stored.id == version.id
    assert stored.status == ReviewStatus.pending
    assert stored.document == time_manifest.document
    assert stored.policy["memoryMb"] == 128
    assert stored.tools_digest is None  # discovered when the sandbox first lists its tools


async def test_duplicate_version_is_a_conflict_and_changes_nothing(
    services: Services, people: tuple[Team, User], time_manifest: ParsedManifest
) -> None:
    team, alice = people
    async with services.transaction() as session:
        await publishing.publish_manifest(session, time_manifest, team=team, actor=alice)
    before = await count_rows(services)
    with pytest.raises(ConflictError, match="already published"):
        async with services.transaction() as session:
            await publishing.publish_manifest(session, time_manifest, team=team, actor=alice)
    assert await count_rows(services) == before


async def test_another_team_cannot_publish_over_an_owned_server(
    services: Services, people: tuple[Team, User], time_manifest: ParsedManifest
) -> None:
    team, alice = people
    async with services.transaction() as session:
        await publishing.publish_manifest(session, time_manifest, team=team, actor=alice)
        other = await create_team(session, "intruders")
    document = {**time_manifest.document, "version": "9.9.9"}
    before = await count_rows(services)
    with pytest.raises(ConflictError, match="owned by team 'platform'"):
        async with services.transaction() as session:
            await publishing.publish_manifest(
                session, parse_manifest(document, "x"), team=other, actor=alice
            )
    assert await count_rows(services) == before


async def test_slug_collision_asks_for_another_slug(
    services: Services, people: tuple[Team, User], time_manifest: ParsedManifest
) -> None:
    team, alice = people
    clash = {**time_manifest.document, "name": "com.example/time"}
    async with services.transaction() as session:
        await publishing.publish_manifest(session, time_manifest, team=team, actor=alice)
    with pytest.raises(ConflictError, match="--slug"):
        async with services.transaction() as session:
            await publishing.publish_manifest(
                session, parse_manifest(clash, "x"), team=team, actor=alice
            )
    async with services.transaction() as session:
        await publishing.publish_manifest(
            session, parse_manifest(clash, "x"), team=team, actor=alice, slug="example-time"
        )
    with pytest.raises(RegistryError, match="slug 'Bad Slug' is invalid"):
        async with services.transaction() as session:
            await publishing.publish_manifest(
                session,
                parse_manifest({**clash, "name": "com.example/t2"}, "x"),
                team=team,
                actor=alice,
                slug="Bad Slug",
            )


async def test_invalid_openapi_changes_nothing(
    services: Services, people: tuple[Team, User]
) -> None:
    team, alice = people
    before = await count_rows(services)
    with pytest.raises(InvalidDocumentError) as caught:
        async with services.transaction() as session:
            await publishing.import_openapi(
                session,
                b"swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n",
                source="old.yaml",
                name="old",
                team=team,
                actor=alice,
            )
    assert caught.value.source == "old.yaml"
    assert await count_rows(services) == before


@pytest.mark.parametrize(
    ("fixture", "name", "tools"),
    [
        ("openapi/github.json", "com.github/api", 17),
        ("openapi/stripe.yaml", "com.stripe/api", 15),
        ("openapi/petstore31.yaml", "io.swagger/petstore", 17),
    ],
)
async def test_openapi_import_stores_tools_digest_and_policy(
    services: Services, people: tuple[Team, User], fixture: str, name: str, tools: int
) -> None:
    team, alice = people
    async with services.transaction() as session:
        version = await publishing.import_openapi(
            session,
            (FIXTURES / fixture).read_bytes(),
            source=fixture,
            name=name,
            team=team,
            actor=alice,
        )
    async with services.sessions() as session:
        stored = await load_tools(session, pk(version))
        detail = await review.describe(session, f"{name}@{version.version}")
    assert len(stored) == tools
    assert version.tools_digest == definitions_digest(stored)
    assert detail.policy["egress"]
    assert all("." in host for host in detail.policy["egress"])
    assert detail.secrets
    assert all(
        t.binding and t.binding.get("baseUrl", "").startswith("http")
        for t in stored
        if "servers" not in (t.binding or {})
    )


async def test_openapi_loopback_server_is_refused_unless_base_url_given(
    services: Services, people: tuple[Team, User]
) -> None:
    team, alice = people
    spec = (ROOT / "examples" / "tasks-api" / "openapi.yaml").read_bytes()
    before = await count_rows(services)
    with pytest.raises(InvalidDocumentError) as caught:
        async with services.transaction() as session:
            await publishing.import_openapi(
                session, spec, source="openapi.yaml", name="tasks", team=team, actor=alice
            )
    assert caught.value.problems[0].pointer == "/servers/0/url"
    assert "--base-url" in caught.value.problems[0].message
    assert await count_rows(services) == before
    async with services.transaction() as session:
        version = await publishing.import_openapi(
            session,
            spec,
            source="openapi.yaml",
            name="tasks",
            team=team,
            actor=alice,
            base_url="https://tasks.example.com/",
        )
    assert version.policy["egress"] == ["tasks.example.com"]
    assert version.description == "A small task list with tags and due dates."
    with pytest.raises(RegistryError, match="not an absolute"):
        async with services.transaction() as session:
            await publishing.import_openapi(
                session,
                spec,
                source="x",
                name="tasks2",
                team=team,
                actor=alice,
                base_url="tasks.example.com",
            )
    with pytest.raises(RegistryError, match="name 'Not A Name' is invalid"):
        async with services.transaction() as session:
            await publishing.import_openapi(
                session, spec, source="x", name="Not A Name", team=team, actor=alice
            )


def ping_spec(*servers: str, operation: list[str] | None = None, version: str = "1.0.0") -> bytes:
    """A one-operation document; `operation` gives the operation servers of its own."""
    get: dict[str, Any] = {"operationId": "ping", "responses": {"204": {"description": "done"}}}
    if operation is not None:
        get["servers"] = [{"url": url} for url in operation]
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Ping", "version": version},
        "servers": [{"url": url} for url in servers],
        "paths": {"/ping": {"get": get}},
    }
    return json.dumps(document).encode()


async def import_ping(
    services: Services, people: tuple[Team, User], spec: bytes, **options: str
) -> ServerVersion:
    team, alice = people
    async with services.transaction() as session:
        return await publishing.import_openapi(
            session, spec, source="ping.json", name="ping", team=team, actor=alice, **options
        )


@pytest.mark.parametrize("port", ["99999", "abc", "0", "-1"])
async def test_openapi_import_refuses_an_invalid_port(
    services: Services, people: tuple[Team, User], port: str
) -> None:
    before = await count_rows(services)
    url = f"https://api.example.com:{port}/v1"
    with pytest.raises(RegistryError) as refused:
        await import_ping(services, people, ping_spec(), base_url=url)
    assert refused.value.status_code == 400
    assert str(refused.value).startswith(f"--base-url {url!r} has an invalid port")
    for spec, pointer in [
        (ping_spec(url), "/servers/0/url"),
        (ping_spec("https://api.example.com", operation=[url]), "servers of operation ping"),
    ]:
        with pytest.raises(InvalidDocumentError) as caught:
            await import_ping(services, people, spec)
        assert [(p.pointer, p.message.split(" has ")[0]) for p in caught.value.problems] == [
            (pointer, f"server URL {url!r}")
        ]
    assert await count_rows(services) == before


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("https://user:pa55@api.example.com", "must not contain a user name or password"),
        ("https://api.example.com/v1?key=abc#frag", "must not contain a query"),
        ("https://api.example.com/v1?", "must not contain a query"),
        ("https://api.example.com/v1#frag", "must not contain a query"),
        ("https://api.example.com/v1}", "must not contain `{` or `}`"),
    ],
)
async def test_openapi_import_refuses_urls_that_break_calls(
    services: Services, people: tuple[Team, User], url: str, refusal: str
) -> None:
    before = await count_rows(services)
    with pytest.raises(RegistryError) as refused:
        await import_ping(services, people, ping_spec(), base_url=url)
    assert refused.value.status_code == 400
    assert str(refused.value).startswith(f"--base-url {url!r} {refusal}")
    with pytest.raises(InvalidDocumentError) as caught:
        await import_ping(services, people, ping_spec(url))
    (problem,) = caught.value.problems
    assert problem.pointer == "/servers/0/url"
    assert problem.message.startswith(f"server URL {url!r} {refusal}")
    assert await count_rows(services) == before


async def test_openapi_base_url_credentials_point_to_secrets(
    services: Services, people: tuple[Team, User]
) -> None:
    with pytest.raises(RegistryError, match="switchboard secret set"):
        await import_ping(services, people, ping_spec(), base_url="https://u:p@api.example.com")
    with pytest.raises(RegistryError) as braces:
        await import_ping(services, people, ping_spec(), base_url="https://api.example.com/{v}")
    assert "must not contain `{` or `}`" in str(braces.value)


EU = "https://eu.example.com"
API = "api.example.com"


@pytest.mark.parametrize(
    ("operation", "base_url", "calls", "egress"),
    [
        (["/v2"], None, {"servers": [f"https://{API}/v2"]}, [API]),
        (["v2/", EU + "/"], None, {"servers": [f"https://{API}/v2", EU]}, [API, "eu.example.com"]),
        (
            ["/v2"],
            "https://api.example.org/v1/",
            {"servers": ["https://api.example.org/v2"]},
            ["api.example.org"],
        ),
        ([], None, {"baseUrl": f"https://{API}/v1"}, [API]),
        (["ftp://files.example.com"], None, {"baseUrl": f"https://{API}/v1"}, [API]),
    ],
)
async def test_openapi_relative_or_empty_operation_servers_follow_the_base(
    services: Services,
    people: tuple[Team, User],
    operation: list[str],
    base_url: str | None,
    calls: dict[str, Any],
    egress: list[str],
) -> None:
    spec = ping_spec(f"https://{API}/v1", operation=operation)
    options = {"base_url": base_url} if base_url else {}
    version = await import_ping(services, people, spec, **options)
    async with services.sessions() as session:
        (tool,) = await load_tools(session, pk(version))
    assert {k: v for k, v in (tool.binding or {}).items() if k in ("servers", "baseUrl")} == calls
    assert version.policy["egress"] == egress


@pytest.mark.parametrize("version", ["a b/c@d", "1.0/../x@y", "1" * 300, "latest", "..", "v1#2"])
async def test_openapi_import_checks_the_version_as_manifests_do(
    services: Services, people: tuple[Team, User], version: str
) -> None:
    before = await count_rows(services)
    with pytest.raises(RegistryError) as refused:
        await import_ping(services, people, ping_spec(f"https://{API}"), version=version)
    assert refused.value.status_code == 400
    assert str(refused.value).startswith(f"--version {version!r} ")
    with pytest.raises(InvalidDocumentError) as caught:
        await import_ping(services, people, ping_spec(f"https://{API}", version=version))
    assert [p.pointer for p in caught.value.problems] == ["/info/version"]
    assert "`--version`" in caught.value.problems[0].message
    assert await count_rows(services) == before
    spec = ping_spec(f"https://{API}", version=version)
    imported = await import_ping(services, people, spec, version="2.0.0-rc.1+b5")
    assert imported.version == "2.0.0-rc.1+b5"
