"""What handlers take from the request: the services and who is acting."""

from __future__ import annotations

import re

from starlette.requests import Request

from registry.errors import RegistryError
from switchboard.services import Services

ACTOR_HEADER = "x-switchboard-actor"
_ACTOR = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")


def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


def actor_name(request: Request) -> str:
    """Until sign-in exists, the loopback-only API records the name the caller gives."""
    name = request.headers.get(ACTOR_HEADER, "api")
    if not _ACTOR.match(name):
        raise RegistryError(f"header X-Switchboard-Actor {name!r} is not a valid user name")
    return name
