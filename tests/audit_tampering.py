"""What someone with the database's administrator rights can do to the audit log: drop the
triggers that keep it append-only, then change it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

TABLES = ("audit_record", "audit_seal")


async def drop_append_only_guards(connection: AsyncConnection) -> None:
    if connection.dialect.name == "postgresql":
        for table in TABLES:
            await connection.execute(text(f"DROP TRIGGER {table}_no_change ON {table}"))
            await connection.execute(text(f"DROP TRIGGER {table}_no_truncate ON {table}"))
        return
    for table in TABLES:
        for event in ("update", "delete"):
            await connection.execute(text(f"DROP TRIGGER {table}_no_{event}"))
