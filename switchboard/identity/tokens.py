"""Access tokens: short-lived JWTs bound to one resource, and the checks that accept them.

Every way a token can be wrong (signature, `alg`, issuer, audience, expiry, not-before, shape)
ends in the same `InvalidTokenError`, whose message is for logs only: clients are told just
`invalid_token`, as RFC 6750 allows.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from switchboard.identity.keys import ALGORITHM, SigningKeys

LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 8192
VERIFIED_CACHE_SIZE = 10_000
"""Tokens whose signature and claims were checked, kept until they expire: a client sends the
same token on every request, and the signature check is most of the cost of accepting it."""


class InvalidTokenError(Exception):
    """The bearer token cannot be accepted; the reason is for logs, never for the client."""


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    """The user name."""
    client_id: str
    scopes: frozenset[str]
    audience: str
    token_id: str
    expires_at: int
    on_behalf_of: str | None = None
    """For agent runs: the person the agent acts for."""


class AccessTokens:
    def __init__(self, keys: SigningKeys, *, issuer: str, lifetime_seconds: int) -> None:
        self._keys = keys
        self.issuer = issuer
        self.lifetime_seconds = lifetime_seconds
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    async def issue(
        self,
        *,
        subject: str,
        client_id: str,
        scopes: list[str],
        audience: str,
        on_behalf_of: str | None = None,
        lifetime_seconds: int | None = None,
        family: str | None = None,
    ) -> tuple[str, int]:
        """A signed token and its lifetime in seconds."""
        ring = await self._keys.ring()
        now = int(time.time())
        lifetime = lifetime_seconds or self.lifetime_seconds
        claims: dict[str, object] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": secrets.token_urlsafe(16),
        }
        if on_behalf_of is not None:
            claims["act_for"] = on_behalf_of
        if family is not None:
            claims["sid"] = family
        header = {"alg": ALGORITHM, "kid": ring.signing.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, ring.signing, algorithms=[ALGORITHM]), lifetime

    async def verify(self, token: str, *, audiences: tuple[str, ...]) -> AccessClaims:
        """The token's claims if it is ours, current, and bound to one of `audiences`."""
        known = self._verified.get(token)
        if known is not None and known.expires_at + LEEWAY_SECONDS > time.time():
            if known.audience not in audiences:
                raise InvalidTokenError("the token is bound to another audience")
            return known
        claims = await self._verify(token, audiences)
        self._verified[token] = claims
        while len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    async def _verify(self, token: str, audiences: tuple[str, ...]) -> AccessClaims:
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidTokenError("not a compact JWS")
        kid = _unverified_kid(token)
        ring = await self._keys.ring(unknown_kid=kid)
        try:
            decoded = jwt.decode(token, ring.verifying, algorithms=[ALGORITHM])
            if decoded.header.get("typ") != "at+jwt":
                raise InvalidTokenError("not an access token (`typ` is not at+jwt)")
            JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "values": list(audiences)},
                exp={"essential": True},
                nbf={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise InvalidTokenError(f"{type(exc).__name__}: {exc}") from exc
        claims = decoded.claims
        return AccessClaims(
            subject=_string(claims, "sub"),
            client_id=_string(claims, "client_id"),
            scopes=frozenset(_string(claims, "scope").split()),
            audience=str(claims["aud"]),
            token_id=_string(claims, "jti"),
            expires_at=int(claims["exp"]),
            on_behalf_of=claims.get("act_for") if isinstance(claims.get("act_for"), str) else None,
        )

    async def family_of(self, token: str, *, audiences: tuple[str, ...]) -> str | None:
        """The refresh family a token of ours came from, even if it has expired (RFC 7009)."""
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            return None
        ring = await self._keys.ring(unknown_kid=_unverified_kid(token))
        try:
            claims = jwt.decode(token, ring.verifying, algorithms=[ALGORITHM]).claims
        except (JoseError, ValueError):
            return None
        if claims.get("iss") != self.issuer or claims.get("aud") not in audiences:
            return None
        family = claims.get("sid")
        return family if isinstance(family, str) else None


def _string(claims: dict[str, object], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str):
        raise InvalidTokenError(f"claim {name!r} is missing or not a string")
    return value


def _unverified_kid(token: str) -> str | None:
    """The header's `kid`, read only to pick a key; everything is verified afterwards."""
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError):
        return None
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None
