"""Sign-in pages, the OAuth authorization server and the well-known discovery documents."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from toolhost.protected_resource import WELL_KNOWN, metadata_endpoint
from web.auth.signin import signin_routes
from web.auth.sso import sso_routes
from web.oauth import metadata
from web.oauth.authorize import authorize_page, authorize_submit
from web.oauth.registration import register
from web.oauth.token import revoke_endpoint, token_endpoint


def identity_routes() -> list[BaseRoute]:
    return [
        *signin_routes(),
        *sso_routes(),
        Route(WELL_KNOWN, metadata_endpoint, methods=["GET"]),
        Route(WELL_KNOWN + "/mcp", metadata_endpoint, methods=["GET"]),
        Route(
            "/.well-known/oauth-authorization-server",
            metadata.authorization_server,
            methods=["GET"],
        ),
        Route("/.well-known/openid-configuration", metadata.openid_configuration, methods=["GET"]),
        Route(metadata.JWKS, metadata.jwks, methods=["GET"]),
        Route(metadata.AUTHORIZE, authorize_page, methods=["GET"]),
        Route(metadata.AUTHORIZE, authorize_submit, methods=["POST"]),
        Route(metadata.TOKEN, token_endpoint, methods=["POST"]),
        Route(metadata.REGISTER, register, methods=["POST"]),
        Route(metadata.REVOKE, revoke_endpoint, methods=["POST"]),
    ]
