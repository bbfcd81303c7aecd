"""What someone with the database's administrator rights can do to the audit log: drop the
triggers that keep it append-only, then change it; or make every append fail, to see that the
change a record was for fails with it."""

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


async def refuse_appends(connection: AsyncConnection) -> None:
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text(
                "CREATE FUNCTION refuse_append() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'appends refused'; END $$"
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER audit_record_refused BEFORE INSERT ON audit_record "
                "FOR EACH ROW EXECUTE FUNCTION refuse_append()"
            )
        )
        return
    await connection.execute(
        text(
            "CREATE TRIGGER audit_record_refused BEFORE INSERT ON audit_record "
            "BEGIN SELECT RAISE(ABORT, 'appends refused'); END"
        )
    )


async def allow_appends(connection: AsyncConnection) -> None:
    on = " ON audit_record" if connection.dialect.name == "postgresql" else ""
    await connection.execute(text(f"DROP TRIGGER audit_record_refused{on}"))
