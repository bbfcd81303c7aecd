"""`/oauth/authorize`: sign-in, consent (remembered per user and client), and the code.

The consent form posts the original request back and it is checked again from scratch, so
nothing about a pending authorization has to be stored between the two steps.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from registry.models import User, pk
from switchboard.audit.log import Event, append
from switchboard.identity.models import AuthorizationCode, Consent
from switchboard.identity.scopes import API, MCP, SERVER_PREFIX
from switchboard.services import Services
from web.auth import csrf
from web.auth.sessions import SignedIn, current_session
from web.oauth.requests import (
    AuthorizationRequest,
    RedirectError,
    ShowError,
    check_request,
    origin_of,
    redirect_target,
)
from web.pages import message, render
from web.requests import services_of

CODE_LIFETIME = timedelta(seconds=60)


def code_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def describe_scope(scope: str) -> str:
    if scope == MCP:
        return "use the tools your teams are granted, through the MCP endpoint"
    if scope == API:
        return "use Switchboard's API with your role's permissions"
    if scope.startswith(SERVER_PREFIX):
        return f"use the granted tools of the server `{scope.removeprefix(SERVER_PREFIX)}`"
    return "use the granted tools that need this scope"


async def authorize_page(request: Request) -> Response:
    services = services_of(request)
    signed_in = await current_session(services, request)
    return await _decide(services, request, dict(request.query_params), None, signed_in)


async def authorize_submit(request: Request) -> Response:
    services = services_of(request)
    async with request.form(max_files=0, max_fields=20, max_part_size=8192) as form:
        given = {key: str(value) for key, value in form.items()}
    signed_in = await current_session(services, request)
    if signed_in is None or not csrf.same_origin(request, services.settings):
        return message("Consent expired", "Sign in and start again from the application.", 403)
    if not csrf.matches(signed_in.csrf_token, given.get(csrf.FIELD)):
        return message("Consent refused", "The form came from another site.", 403)
    decision = given.get("decision")
    if decision not in ("allow", "deny"):
        return message("Consent refused", "Choose Allow or Deny.", 400)
    return await _decide(services, request, given, decision, signed_in)


async def _decide(
    services: Services,
    request: Request,
    given: dict[str, str],
    decision: str | None,
    signed_in: SignedIn | None,
) -> Response:
    issuer = services.settings.effective_public_url
    try:
        auth = await check_request(services, given)
    except ShowError as exc:
        return message("This application cannot sign you in", str(exc), 400)
    except RedirectError as exc:
        target = redirect_target(
            exc.redirect_uri,
            issuer,
            given.get("state"),
            error=exc.error,
            error_description=str(exc),
        )
        return RedirectResponse(target, 303)
    if signed_in is None:
        here = request.url.path + "?" + request.url.query
        return RedirectResponse("/signin?next=" + quote(here, safe=""), 303)
    user = signed_in.user
    if decision == "deny":
        await _audit(services, user, auth, "denied")
        target = redirect_target(
            auth.redirect_uri,
            issuer,
            auth.state,
            error="access_denied",
            error_description="the user denied the request",
        )
        return RedirectResponse(target, 303)
    if decision is None and not await _consented(services, user, auth):
        return _consent_page(signed_in, auth)
    if decision == "allow":
        await _remember(services, user, auth)
    code = await _issue_code(services, user, auth)
    await _audit(services, user, auth, "ok")
    return RedirectResponse(redirect_target(auth.redirect_uri, issuer, auth.state, code=code), 303)


def _consent_page(signed_in: SignedIn, auth: AuthorizationRequest) -> Response:
    return render(
        "consent.html",
        form_targets=(origin_of(auth.redirect_uri),),
        client_name=auth.client.name,
        client_id=auth.client.client_id,
        redirect_uri=auth.redirect_uri,
        username=signed_in.user.username,
        scopes=[{"name": s, "meaning": describe_scope(s)} for s in auth.scopes],
        csrf_token=signed_in.csrf_token,
        parameters=auth.parameters,
    )


async def _consented(services: Services, user: User, auth: AuthorizationRequest) -> bool:
    async with services.sessions() as session:
        row = await session.get(Consent, (pk(user), auth.client.client_id))
    return row is not None and set(auth.scopes) <= set(row.scopes)


async def _remember(services: Services, user: User, auth: AuthorizationRequest) -> None:
    async with services.transaction() as session:
        row = await session.get(Consent, (pk(user), auth.client.client_id))
        if row is None:
            row = Consent(user_id=pk(user), client_id=auth.client.client_id, scopes=[])
        row.scopes = sorted(set(row.scopes) | set(auth.scopes))
        row.granted_at = datetime.now(UTC)
        session.add(row)


async def _issue_code(services: Services, user: User, auth: AuthorizationRequest) -> str:
    code = secrets.token_urlsafe(32)
    async with services.transaction() as session:
        session.add(
            AuthorizationCode(
                code_hash=code_digest(code),
                client_id=auth.client.client_id,
                user_id=pk(user),
                redirect_uri=auth.redirect_uri,
                code_challenge=auth.code_challenge,
                scopes=auth.scopes,
                resource=auth.resource,
                expires_at=datetime.now(UTC) + CODE_LIFETIME,
            )
        )
    return code


async def _audit(services: Services, user: User, auth: AuthorizationRequest, outcome: str) -> None:
    await append(
        services.sessions,
        Event(
            actor=user.username,
            action="oauth_authorize",
            outcome=outcome,
            client=auth.client.client_id,
            detail={"scopes": auth.scopes, "resource": auth.resource},
        ),
    )
