"""`/signin` and `/signout`: the form, its checks, and an audit record for every attempt."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from switchboard.audit.log import Event, append
from switchboard.identity.accounts import SIGN_IN_FAILED, sign_in
from switchboard.services import Services
from web.auth import csrf
from web.auth.ratelimit import SlidingWindow
from web.auth.sessions import current_session, end_session, start_session
from web.pages import message, render
from web.requests import client_address, services_of

ATTEMPTS_PER_ADDRESS = 20
ATTEMPT_WINDOW_SECONDS = 300.0
MAX_FIELD = 1024


def local_path(target: str | None) -> str:
    """Where to go after signing in: only a path on this site, never another origin."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 0x20 for c in target):
        return "/"
    return target


def _form(
    request: Request,
    services: Services,
    *,
    next_path: str,
    error: str = "",
    username: str = "",
    status: int = 200,
) -> Response:
    token = csrf.pre_session_token(request, services.settings)
    response = render(
        "signin.html",
        status,
        next=next_path,
        error=error,
        username=username,
        sso=services.settings.oidc_issuer is not None,
        csrf_token=token,
    )
    csrf.set_pre_session_cookie(services.settings, response, token)
    return response


async def signin_page(request: Request) -> Response:
    services = services_of(request)
    next_path = local_path(request.query_params.get("next"))
    if await current_session(services, request) is not None:
        return RedirectResponse(next_path, 303)
    return _form(request, services, next_path=next_path)


async def signin_submit(request: Request) -> Response:
    services = services_of(request)
    limiter: SlidingWindow = request.app.state.signin_limiter
    address = client_address(request)
    async with request.form(max_files=0, max_fields=10, max_part_size=MAX_FIELD) as form:
        # No username holds NUL, and PostgreSQL text cannot: it stays a failed sign-in.
        username = str(form.get("username", ""))[:MAX_FIELD].replace("\x00", "\ufffd")
        password = str(form.get("password", ""))[:MAX_FIELD]
        given_csrf = str(form.get("csrf_token", ""))
        next_path = local_path(str(form.get("next", "/")))
    cookie_csrf = request.cookies.get(csrf.pre_session_cookie(services.settings))
    if not csrf.same_origin(request, services.settings) or not csrf.matches(
        cookie_csrf, given_csrf
    ):
        return message(
            "Sign-in expired", "The form was too old or came from another site; try again.", 403
        )
    if not limiter.allow(address):
        await _audit(services, username, address, "rate_limited")
        response = _form(
            request,
            services,
            next_path=next_path,
            username=username,
            error="Too many sign-in attempts from your address; wait a few minutes.",
            status=429,
        )
        response.headers["Retry-After"] = str(limiter.retry_after(address))
        return response
    settings = services.settings
    async with services.transaction() as session:
        user = await sign_in(
            session,
            username,
            password,
            max_failures=settings.signin_max_failures,
            lockout=timedelta(seconds=settings.signin_lockout_seconds),
        )
    if user is None:
        await _audit(services, username, address, "denied")
        return _form(
            request,
            services,
            next_path=next_path,
            username=username,
            error=SIGN_IN_FAILED,
            status=401,
        )
    await _audit(services, user.username, address, "ok")
    response = RedirectResponse(next_path, 303)
    await start_session(services, user, response)
    response.delete_cookie(csrf.pre_session_cookie(settings), path="/")
    return response


async def signout(request: Request) -> Response:
    services = services_of(request)
    signed_in = await current_session(services, request)
    async with request.form(max_files=0, max_fields=5) as form:
        given = str(form.get(csrf.FIELD, ""))
    if signed_in is not None:
        if not csrf.matches(signed_in.csrf_token, given):
            return message("Sign-out refused", "The form came from another site.", 403)
        await append(
            services.sessions,
            Event(actor=signed_in.user.username, action="sign_out", outcome="ok"),
        )
    response = RedirectResponse("/signin", 303)
    await end_session(services, request, response)
    return response


async def _audit(services: Services, username: str, address: str, outcome: str) -> None:
    await append(
        services.sessions,
        Event(
            actor=username[:128] or "(empty)",
            action="sign_in",
            outcome=outcome,
            detail={"address": address, "method": "password"},
        ),
    )


def signin_routes() -> list[BaseRoute]:
    return [
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin_submit, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
    ]
