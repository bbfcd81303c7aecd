"""Single sign-on through an OpenID Connect provider: the authorization code flow with PKCE.

`GET /signin/sso` sends the browser to the provider; `GET /signin/sso/callback` brings it back,
checks everything the provider said, links or creates the local account, and starts a session.
Both answer 404 unless `SWITCHBOARD_OIDC_ISSUER` is set.

The flow's secrets (`state`, `nonce`, the PKCE verifier) and the page to return to travel in one
short-lived cookie sealed with the deployment's secret key (AES-GCM, `registry.secretbox`), not
in a database row: any replica can finish a flow another started, abandoned sign-ins leave
nothing to clean up, and sealing means the browser can neither read the verifier nor forge a
flow. The sealing context names the issuer, so a flow begun for another provider will not open.
The cookie is HttpOnly, lasts ten minutes, is `__Host-` bound to this origin over HTTPS, and is
SameSite=Lax because the provider's redirect back is a cross-site top-level navigation, from
which Strict would strip it. Every callback deletes it, whatever the outcome, so each flow is
used at most once; a second sign-in started in another tab replaces the first.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import secrets
import ssl
import time
from dataclasses import asdict, dataclass, field
from ipaddress import ip_address
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, JoseError
from joserfc.jwk import KeySet, KeySetSerialization
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from registry.models import Role, Team, User
from registry.secretbox import SecretBox, SecretKeyError
from registry.teams import add_member
from switchboard.audit.log import Event, append
from switchboard.identity.accounts import check_username, find_user
from switchboard.services import Services
from switchboard.settings import Settings
from web.auth.sessions import start_session
from web.auth.signin import local_path
from web.pages import message
from web.requests import client_address, services_of

START = "/signin/sso"
CALLBACK = "/signin/sso/callback"
FLOW_SECONDS = 600
DISCOVERY_SECONDS = 300.0
HTTP_TIMEOUT_SECONDS = 10.0
CLOCK_SKEW_SECONDS = 60
ACCOUNT_ATTEMPTS = 3
USERNAME_TRIES = 20
MAX_COOKIE = 2048
MAX_SHOWN = 100
MAX_SUBJECT = 512
"""The width of `User.external_subject`, which holds `issuer|sub`."""
MAX_DISPLAY_NAME = 200
WANTED_SCOPES = ("openid", "profile", "email")
ID_TOKEN_ALGORITHMS = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512", "EdDSA"),
)
"""Public-key algorithms only: `none` proves nothing, and HMAC would make the client secret a
signing key that anyone holding it could forge ID tokens with."""
_NOT_IN_USERNAME = re.compile(r"[^A-Za-z0-9._@-]+")
_USERNAME_BASE = 128 - 9
"""Leaves room for a `-` and eight hex digits, the last resort for a unique name."""
_EXPIRED = (
    "This sign-in expired or was started in another browser; start it again from the sign-in page."
)
_CLAIM_PROBLEMS = {
    "iss": "was issued by another issuer than SWITCHBOARD_OIDC_ISSUER",
    "aud": "is meant for another client (its audience is not SWITCHBOARD_OIDC_CLIENT_ID)",
    "azp": "names several audiences but not this client as the authorized party (`azp`)",
    "exp": "has expired; check that this server's clock is right",
    "iat": "says it was issued in the future; check that this server's clock is right",
    "nbf": "is not valid yet; check that this server's clock is right",
    "nonce": "belongs to another sign-in (its nonce is not this sign-in's)",
    "sub": "names no subject",
    "at_hash": "does not match the access token issued with it",
}


class SSOError(Exception):
    """A sign-in that cannot go on. The message is shown to the person and written to the audit
    log, so it names what went wrong and what to do, and never holds a code or token."""

    def __init__(self, text: str, *, status: int = 400, actor: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.actor = actor


# The provider


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ip_address(host).is_loopback
    except ValueError:
        return False


def _provider_url(url: str) -> str:
    """Tokens and keys must not cross the network in clear; loopback stays on this machine."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return url
    raise ValueError("must be an https URL (plain http is allowed only on a loopback host)")


ProviderURL = Annotated[str, AfterValidator(_provider_url)]


class Provider(BaseModel):
    """The parts of an OpenID Provider's discovery document this client relies on."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    issuer: str
    authorization_endpoint: ProviderURL
    token_endpoint: ProviderURL
    jwks_uri: ProviderURL
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_methods_supported: list[str] = ["client_secret_basic"]
    scopes_supported: list[str] | None = None
    authorization_response_iss_parameter_supported: bool = False


@dataclass(frozen=True)
class Client:
    """Who this server is at the provider, from the settings."""

    issuer: str
    client_id: str
    client_secret: str | None
    teams_claim: str
    redirect_uri: str


def _client(settings: Settings) -> Client:
    """The configured client; 404 when single sign-on is off, so the routes do not exist."""
    issuer = settings.oidc_issuer
    if issuer is None:
        raise HTTPException(404)
    if not settings.oidc_client_id:
        raise SSOError(
            "Single sign-on is not fully set up: set SWITCHBOARD_OIDC_CLIENT_ID to this "
            "server's client ID at the provider.",
            status=503,
        )
    try:
        _provider_url(issuer)
    except ValueError as error:
        raise SSOError(f"SWITCHBOARD_OIDC_ISSUER {error}.", status=503) from None
    secret = settings.oidc_client_secret
    return Client(
        issuer=issuer,
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret is not None else None,
        teams_claim=settings.oidc_teams_claim,
        redirect_uri=settings.effective_public_url + CALLBACK,
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system trust store with host name checks; built once, since building it reads files."""
    return ssl.create_default_context()


def _oauth_client(client: Client) -> AsyncOAuth2Client:
    """authlib's client (on httpx2) for every request to the provider, verified against the
    system CA bundle; redirects are not followed, so a moved endpoint is an explicit error."""
    return AsyncOAuth2Client(
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=client.redirect_uri,
        code_challenge_method="S256",
        verify=_tls_context(),
        timeout=HTTP_TIMEOUT_SECONDS,
        follow_redirects=False,
    )


def _quoted(text: str) -> str:
    """Text someone else chose, quoted and cut short for a message."""
    return repr(text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "...")


async def _get_json(http: AsyncOAuth2Client, url: str, what: str) -> dict[str, Any]:
    try:
        response = await http.request(
            "GET", url, withhold_token=True, headers={"Accept": "application/json"}
        )
    except httpx2.HTTPError as error:
        raise SSOError(
            f"Could not fetch the sign-in provider's {what} from {url} ({type(error).__name__}); "
            "check SWITCHBOARD_OIDC_ISSUER and that this server can reach the provider.",
            status=502,
        ) from None
    if response.status_code != 200:
        raise SSOError(
            f"The sign-in provider answered HTTP {response.status_code} for its {what} at {url}.",
            status=502,
        )
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise SSOError(f"The sign-in provider's {what} at {url} is not a JSON object.", status=502)
    return document


_providers: dict[str, tuple[float, Provider]] = {}
"""Discovery documents by issuer, with when they were fetched: one fetch serves every sign-in
for a few minutes, yet a provider's changed endpoints are picked up without a restart."""


async def _provider(http: AsyncOAuth2Client, issuer: str) -> Provider:
    cached = _providers.get(issuer)
    if cached is not None and time.monotonic() - cached[0] < DISCOVERY_SECONDS:
        return cached[1]
    provider = await _discover(http, issuer)
    _providers[issuer] = (time.monotonic(), provider)
    return provider


async def _discover(http: AsyncOAuth2Client, issuer: str) -> Provider:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    document = await _get_json(http, url, "discovery document")
    try:
        provider = Provider.model_validate(document)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise SSOError(
            f"The sign-in provider's discovery document at {url} is unusable: {where}: "
            f"{problem['msg']}.",
            status=502,
        ) from None
    if provider.issuer != issuer:
        raise SSOError(
            f"The provider at {url} calls itself {_quoted(provider.issuer)}; set "
            "SWITCHBOARD_OIDC_ISSUER to exactly that (OpenID Connect requires them to match).",
            status=502,
        )
    return provider


def _scope(provider: Provider, teams_claim: str) -> str:
    """`openid profile email`, less what the provider says it lacks; plus a scope named like
    the teams claim when the provider offers one, since some (Dex, for one) only then send it."""
    offered = provider.scopes_supported
    if offered is None:
        return " ".join(WANTED_SCOPES)
    wanted = [s for s in WANTED_SCOPES if s == "openid" or s in offered]
    if teams_claim in offered and teams_claim not in wanted:
        wanted.append(teams_claim)
    return " ".join(wanted)


def _token_auth_method(provider: Provider, client: Client) -> str:
    if client.client_secret is None:
        return "none"
    for method in ("client_secret_basic", "client_secret_post"):
        if method in provider.token_endpoint_auth_methods_supported:
            return method
    raise SSOError(
        "The sign-in provider accepts neither client_secret_basic nor client_secret_post at its "
        "token endpoint, the client authentications Switchboard supports.",
        status=502,
    )


def _algorithms(provider: Provider) -> list[str]:
    allowed = [
        a for a in provider.id_token_signing_alg_values_supported if a in ID_TOKEN_ALGORITHMS
    ]
    if not allowed:
        offered = ", ".join(provider.id_token_signing_alg_values_supported) or "none"
        raise SSOError(
            f"The sign-in provider signs ID tokens only with {offered}; Switchboard accepts "
            f"{', '.join(ID_TOKEN_ALGORITHMS)}.",
            status=502,
        )
    return allowed


# The flow cookie


@dataclass(frozen=True)
class Flow:
    state: str
    nonce: str
    verifier: str
    next_path: str
    expires_at: float = field(default_factory=lambda: time.time() + FLOW_SECONDS)

    @classmethod
    def begin(cls, next_path: str) -> Flow:
        return cls(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(48),
            next_path=next_path,
        )


def flow_cookie(settings: Settings) -> str:
    """`__Host-` binds the cookie to this exact origin, but browsers accept it only over HTTPS."""
    return "__Host-switchboard-sso" if settings.secure_cookies else "switchboard-sso"


def _seal_context(issuer: str) -> str:
    return f"sso-flow|{issuer}"


def _seal(box: SecretBox, issuer: str, flow: Flow) -> str:
    sealed = box.seal(_seal_context(issuer), json.dumps(asdict(flow)))
    return base64.urlsafe_b64encode(sealed).decode()


def _open(box: SecretBox, issuer: str, cookie: str | None) -> Flow:
    if not cookie or len(cookie) > MAX_COOKIE:
        raise SSOError(_EXPIRED)
    try:
        sealed = base64.urlsafe_b64decode(cookie.encode())
        flow = Flow(**json.loads(box.open(_seal_context(issuer), sealed)))
    except (ValueError, TypeError, SecretKeyError):
        raise SSOError(_EXPIRED) from None
    if flow.expires_at < time.time():
        raise SSOError(_EXPIRED)
    return flow


def _set_flow_cookie(settings: Settings, response: Response, value: str) -> None:
    response.set_cookie(
        flow_cookie(settings),
        value,
        max_age=FLOW_SECONDS,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def _forget_flow(settings: Settings, response: Response) -> None:
    response.delete_cookie(
        flow_cookie(settings),
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


# The provider's answer


def _authorization_code(params: QueryParams, flow: Flow) -> str:
    """The code, once the answer is shown to belong to this browser's flow (`state`)."""
    state = params.get("state", "")
    if not secrets.compare_digest(state.encode(), flow.state.encode()):
        raise SSOError(
            "This answer from the sign-in provider does not belong to the sign-in this browser "
            "started; start it again from the sign-in page."
        )
    error = params.get("error")
    if error is not None:
        raise SSOError(f"The sign-in provider did not sign you in ({_quoted(error)}).", status=403)
    code = params.get("code")
    if not code:
        raise SSOError("The sign-in provider's answer has no authorization code; start again.")
    return code


def _check_issuer_parameter(params: QueryParams, provider: Provider) -> None:
    """RFC 9207: an answer naming another issuer came from a provider mixed up with ours."""
    given = params.get("iss")
    if given is None and not provider.authorization_response_iss_parameter_supported:
        return
    if given != provider.issuer:
        raise SSOError(
            "The answer came from another issuer than SWITCHBOARD_OIDC_ISSUER; start again from "
            "the sign-in page."
        )


async def _exchange(
    http: AsyncOAuth2Client, provider: Provider, client: Client, code: str, verifier: str
) -> dict[str, Any]:
    auth = http.client_auth(_token_auth_method(provider, client))
    try:
        token = await http.fetch_token(
            provider.token_endpoint,
            grant_type="authorization_code",
            code=code,
            code_verifier=verifier,
            auth=auth,
        )
    except OAuthError as error:
        raise SSOError(
            f"The sign-in provider refused the authorization code ({_quoted(error.error)}); "
            "start again, and check SWITCHBOARD_OIDC_CLIENT_ID and SWITCHBOARD_OIDC_CLIENT_SECRET "
            "if it keeps happening.",
            status=502,
        ) from None
    except (httpx2.HTTPError, ValueError) as error:
        raise SSOError(
            f"The sign-in provider's token endpoint failed ({type(error).__name__}); try again.",
            status=502,
        ) from None
    return dict(token)


async def _key_set(http: AsyncOAuth2Client, provider: Provider) -> KeySet:
    """Fetched for every sign-in rather than cached: sign-ins are rare, and a provider that has
    just rotated its keys must never be refused for it."""
    document = await _get_json(http, provider.jwks_uri, "key set")
    try:
        return KeySet.import_key_set(cast(KeySetSerialization, document))
    except (JoseError, ValueError, KeyError, TypeError):
        raise SSOError(
            f"The sign-in provider's key set at {provider.jwks_uri} holds no usable keys.",
            status=502,
        ) from None


def _claim_problem(error: ClaimError) -> str:
    claim = error.claim.split(",")[0]
    problem = _CLAIM_PROBLEMS.get(claim, f"has a missing or invalid {_quoted(claim)} claim")
    return f"The sign-in provider's ID token {problem}."


async def _verified_claims(
    http: AsyncOAuth2Client, provider: Provider, client: Client, token: dict[str, Any], nonce: str
) -> dict[str, Any]:
    """The ID token's claims once its signature, issuer, audience, times and nonce check out."""
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SSOError(
            "The sign-in provider sent no ID token; allow this client the `openid` scope there.",
            status=502,
        )
    keys = await _key_set(http, provider)
    try:
        decoded = jwt.decode(id_token, keys, algorithms=_algorithms(provider))
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            options={
                "iss": {"essential": True, "value": provider.issuer},
                "aud": {"essential": True, "value": client.client_id},
            },
            params={
                "nonce": nonce,
                "client_id": client.client_id,
                "access_token": token.get("access_token"),
            },
        )
        claims.validate(leeway=CLOCK_SKEW_SECONDS)
    except ClaimError as error:
        raise SSOError(_claim_problem(error), status=403) from None
    except (JoseError, ValueError):
        raise SSOError(
            "The sign-in provider's ID token is not signed by any of its published keys.",
            status=403,
        ) from None
    return dict(claims)


# The local account


@dataclass(frozen=True)
class Linked:
    user: User
    created: bool
    teams: list[str]


def _subject(issuer: str, claims: dict[str, Any]) -> str:
    """`issuer|sub`: a subject is unique only within its issuer (OpenID Connect Core 2)."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise SSOError("The sign-in provider's ID token names no subject.", status=502)
    subject = f"{issuer}|{sub}"
    if len(subject) > MAX_SUBJECT:
        raise SSOError(
            "The sign-in provider's subject identifier is longer than Switchboard can store "
            f"({MAX_SUBJECT} characters with the issuer).",
            status=502,
        )
    return subject


def _username_base(claims: dict[str, Any]) -> str:
    for name in ("preferred_username", "email"):
        value = claims.get(name)
        if isinstance(value, str):
            cleaned = _NOT_IN_USERNAME.sub("-", value).strip("-.")[:_USERNAME_BASE]
            if cleaned:
                return cleaned
    return "sso-user"


async def _free_username(session: AsyncSession, claims: dict[str, Any]) -> str:
    """A name no row has, even one only recorded as an actor: many providers let people pick
    their own `preferred_username`, so it must never take over an existing account."""
    base = _username_base(claims)
    for number in range(1, USERNAME_TRIES + 1):
        candidate = base if number == 1 else f"{base}-{number}"
        if await find_user(session, candidate) is None:
            return check_username(candidate)
    return check_username(f"{base}-{secrets.token_hex(4)}")


def _display_name(claims: dict[str, Any]) -> str | None:
    name = claims.get("name")
    return name[:MAX_DISPLAY_NAME] if isinstance(name, str) and name else None


def _group_names(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return list(dict.fromkeys(v for v in value if isinstance(v, str)))
    return []


async def _join_teams(session: AsyncSession, user: User, value: object) -> list[str]:
    """Join every existing team the claim names; teams are never created from a claim (a
    provider's groups are not Switchboard's to mirror) and memberships are never removed (an
    admin may have granted them here)."""
    names = _group_names(value)
    if not names:
        return []
    teams = (await session.exec(select(Team).where(col(Team.name).in_(names)))).all()
    for team in teams:
        await add_member(session, team, user)
    return sorted(team.name for team in teams)


async def _link(session: AsyncSession, client: Client, claims: dict[str, Any]) -> Linked:
    subject = _subject(client.issuer, claims)
    user = (await session.exec(select(User).where(User.external_subject == subject))).first()
    created = user is None
    if user is None:
        user = User(
            username=await _free_username(session, claims),
            role=Role.user,
            external_subject=subject,
            display_name=_display_name(claims),
        )
        session.add(user)
        await session.flush()
    if user.disabled:
        raise SSOError(
            "This account is disabled; ask a Switchboard administrator to enable it.",
            status=403,
            actor=user.username,
        )
    teams = await _join_teams(session, user, claims.get(client.teams_claim))
    return Linked(user, created, teams)


async def _account(services: Services, client: Client, claims: dict[str, Any]) -> Linked:
    """Link in one transaction, again if a concurrent sign-in created the same subject or took
    the chosen name first (the unique columns refuse the loser)."""
    for _ in range(ACCOUNT_ATTEMPTS):
        try:
            async with services.transaction() as session:
                return await _link(session, client, claims)
        except IntegrityError:
            continue
    raise SSOError("The account could not be created because of concurrent sign-ins; try again.")


# Routes


async def _refuse(services: Services, request: Request, error: SSOError) -> Response:
    await append(
        services.sessions,
        Event(
            actor=error.actor or "(sso)",
            action="sign_in",
            outcome="denied",
            detail={"address": client_address(request), "method": "sso", "reason": str(error)},
        ),
    )
    return message("Single sign-on failed", str(error), error.status)


async def sso_start(request: Request) -> Response:
    """Send the browser to the provider, with PKCE (S256), `state` and `nonce`."""
    services = services_of(request)
    settings = services.settings
    try:
        client = _client(settings)
        async with _oauth_client(client) as http:
            provider = await _provider(http, client.issuer)
            flow = Flow.begin(local_path(request.query_params.get("next")))
            url, _ = http.create_authorization_url(
                provider.authorization_endpoint,
                state=flow.state,
                code_verifier=flow.verifier,
                nonce=flow.nonce,
                scope=_scope(provider, client.teams_claim),
            )
    except SSOError as error:
        return await _refuse(services, request, error)
    response = RedirectResponse(url, 303, headers={"Cache-Control": "no-store"})
    _set_flow_cookie(settings, response, _seal(services.secrets, client.issuer, flow))
    return response


async def _complete(services: Services, client: Client, request: Request) -> tuple[Flow, Linked]:
    cookie = request.cookies.get(flow_cookie(services.settings))
    flow = _open(services.secrets, client.issuer, cookie)
    code = _authorization_code(request.query_params, flow)
    async with _oauth_client(client) as http:
        provider = await _provider(http, client.issuer)
        _check_issuer_parameter(request.query_params, provider)
        token = await _exchange(http, provider, client, code, flow.verifier)
        claims = await _verified_claims(http, provider, client, token, flow.nonce)
    return flow, await _account(services, client, claims)


async def sso_callback(request: Request) -> Response:
    """Finish the flow: check the answer and the ID token, then sign the person in."""
    services = services_of(request)
    settings = services.settings
    try:
        client = _client(settings)
        flow, linked = await _complete(services, client, request)
    except SSOError as error:
        response = await _refuse(services, request, error)
    else:
        response = RedirectResponse(flow.next_path, 303, headers={"Cache-Control": "no-store"})
        await start_session(services, linked.user, response)
        await append(
            services.sessions,
            Event(
                actor=linked.user.username,
                action="sign_in",
                outcome="ok",
                detail={
                    "address": client_address(request),
                    "method": "sso",
                    "issuer": client.issuer,
                    "created": linked.created,
                    "teams": linked.teams,
                },
            ),
        )
    _forget_flow(settings, response)
    return response


def sso_routes() -> list[BaseRoute]:
    return [
        Route(START, sso_start, methods=["GET"]),
        Route(CALLBACK, sso_callback, methods=["GET"]),
    ]
