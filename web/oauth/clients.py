"""Finding the client a request names: registered here (RFC 7591) or a metadata document URL.

Metadata documents are fetched with the SSRF rules of `client_metadata` and cached in the
client table for a few minutes, so a busy client is not fetched on every authorization.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from switchboard.identity.models import OAuthClient
from switchboard.services import Services
from web.oauth.client_metadata import ClientMetadataError, fetch_client_metadata

DOCUMENT_CACHE = timedelta(minutes=5)
MAX_CLIENT_ID = 2048


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]


class UnknownClientError(Exception):
    """No such client; the message is safe to show on the error page."""


def is_document_url(client_id: str) -> bool:
    return client_id.startswith(("https://", "http://"))


async def resolve_client(services: Services, client_id: str) -> Client:
    if not client_id or len(client_id) > MAX_CLIENT_ID or "\x00" in client_id:
        raise UnknownClientError("the request names no valid client_id")
    async with services.sessions() as session:
        row = await session.get(OAuthClient, client_id)
    if row is not None and not (row.from_metadata_document and _stale(row)):
        return _client(row)
    if not is_document_url(client_id):
        raise UnknownClientError(
            "this client is not registered here; register it (dynamic client registration) "
            "or use a client ID metadata document URL"
        )
    try:
        document = await fetch_client_metadata(client_id)
    except ClientMetadataError as exc:
        raise UnknownClientError(f"the client's metadata document was refused: {exc}") from exc
    async with services.transaction() as session:
        cached = await session.get(OAuthClient, client_id) or OAuthClient(client_id=client_id)
        cached.name = document.client_name
        cached.redirect_uris = list(document.redirect_uris)
        cached.document = document.raw
        cached.from_metadata_document = True
        cached.created_at = datetime.now(UTC)
        session.add(cached)
    return _client(cached)


def _stale(row: OAuthClient) -> bool:
    fetched = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return datetime.now(UTC) - fetched > DOCUMENT_CACHE


def _client(row: OAuthClient) -> Client:
    return Client(
        client_id=row.client_id,
        name=row.name or row.client_id,
        redirect_uris=tuple(row.redirect_uris),
    )
