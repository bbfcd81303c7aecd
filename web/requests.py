"""What every handler takes from a request: the process's services and the client's address."""

from __future__ import annotations

from starlette.requests import Request

from switchboard.services import Services


def services_of(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


def client_address(request: Request) -> str:
    return request.client.host if request.client else "local"
