"""A server's credentials, stored sealed; only their names ever leave this module."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.errors import RegistryError
from registry.journal import note
from registry.models import Secret, Server, ServerVersion, User, pk, utcnow
from registry.secretbox import SecretBox


async def declared_secrets(session: AsyncSession, server: Server) -> set[str]:
    policies = await session.exec(
        select(ServerVersion.policy).where(ServerVersion.server_id == pk(server))
    )
    return {name for policy in policies for name in policy.get("secrets", [])}


async def set_secret(
    session: AsyncSession, box: SecretBox, server: Server, name: str, value: str, *, actor: User
) -> None:
    declared = await declared_secrets(session, server)
    if name not in declared:
        raise RegistryError(
            f"{server.name} declares no secret {name!r}; "
            f"its secrets are: {', '.join(sorted(declared)) or 'none'}"
        )
    if not value:
        raise RegistryError(f"the value of secret {name!r} is empty")
    sealed = box.seal(_context(server, name), value)
    row = (
        await session.exec(
            select(Secret).where(Secret.server_id == pk(server), Secret.name == name)
        )
    ).first()
    if row is None:
        row = Secret(server_id=pk(server), name=name, ciphertext=sealed, updated_by_id=pk(actor))
    else:
        row.ciphertext, row.updated_by_id, row.updated_at = sealed, pk(actor), utcnow()
    session.add(row)
    await session.flush()
    note(session, actor.username, "secret.set", f"{server.slug}/{name}")


async def secret_names(session: AsyncSession, server: Server) -> list[str]:
    rows = await session.exec(
        select(Secret.name).where(Secret.server_id == pk(server)).order_by(col(Secret.name))
    )
    return list(rows)


async def reveal_secrets(session: AsyncSession, box: SecretBox, server: Server) -> dict[str, str]:
    """Plaintext values, for the sandbox that starts this server and nobody else."""
    rows = await session.exec(select(Secret).where(Secret.server_id == pk(server)))
    return {row.name: box.open(_context(server, row.name), row.ciphertext) for row in rows}


def _context(server: Server, name: str) -> str:
    return f"{server.name}#{name}"
