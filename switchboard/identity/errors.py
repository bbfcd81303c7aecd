"""Identity errors users can act on; `web/` maps their status codes to HTTP."""

from __future__ import annotations

from registry.errors import RegistryError


class SignInError(RegistryError):
    """Wrong name or password, a disabled account or a lockout: one message for all of them."""

    status_code = 401


class ForbiddenError(RegistryError):
    """Signed in, but the role or the token's scopes do not allow this."""

    status_code = 403
