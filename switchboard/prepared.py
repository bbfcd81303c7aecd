"""Statements compiled once for one database and run on the driver's own cursor.

The bearer check's query and the audit log's inserts run on every request, in worker threads.
Through SQLAlchemy's execution machinery each costs about four times what SQLite takes to run
it (48 us against 11 for the bearer check), and that Python work holds the GIL the event loop
is waiting for. A `Prepared` statement keeps what SQLAlchemy would work out on each execution:
the SQL text, the order of its parameters, and the conversions of each parameter and each
result column (JSON, datetimes, booleans), which differ per database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ClauseElement, Dialect, Select
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.sql.compiler import SQLCompiler

Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class Prepared:
    sql: str
    positions: tuple[str, ...] | None
    """Parameter names in placeholder order for positional styles (`?`), else `None`."""
    compiled: SQLCompiler
    binds: Mapping[str, Convert]
    results: Sequence[Convert | None]

    @classmethod
    def of(
        cls, statement: ClauseElement, dialect: Dialect, *, columns: Sequence[str] | None = None
    ) -> Prepared:
        """`columns`: for an `insert(table)`, the columns each row gives a value for."""
        compiled = statement.compile(dialect=dialect, column_keys=columns)
        assert isinstance(compiled, SQLCompiler), "only SQL statements are prepared"
        if compiled.post_compile_params:
            raise ValueError("a prepared statement cannot have expanding (IN) parameters")
        binds = {
            name: convert
            for name, parameter in compiled.binds.items()
            if (convert := parameter.type.dialect_impl(dialect).bind_processor(dialect))
        }
        results = (
            [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in statement.selected_columns
            ]
            if isinstance(statement, Select)
            else []
        )
        positions = compiled.positiontup
        return cls(
            compiled.string,
            None if positions is None else tuple(positions),
            compiled,
            binds,
            results,
        )

    def named(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`values` by bind name, with the statement's literals, converted for the driver."""
        full = dict(self.compiled.construct_params(dict(values)))
        for name, convert in self.binds.items():
            if name in full:
                full[name] = convert(full[name])
        return full

    def positional(self, values: Mapping[str, Any]) -> list[Any]:
        full = self.named(values)
        return [full[name] for name in self.positions or ()]

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        return self.named(values) if self.positions is None else self.positional(values)

    def fetch(
        self, connection: DBAPIConnection, values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The rows, within the caller's transaction on `connection`."""
        cursor = connection.cursor()
        try:
            cursor.execute(self.sql, self.parameters(values))
            converts = self.results
            return [
                tuple(v if c is None else c(v) for c, v in zip(converts, row, strict=True))
                for row in cursor.fetchall()
            ]
        finally:
            cursor.close()

    def select(
        self, connection: DBAPIConnection, values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The rows, then the driver's transaction (if it opened one) rolled back, so the
        connection holds no snapshot or lock while it waits for its next use."""
        try:
            return self.fetch(connection, values)
        finally:
            connection.rollback()

    def execute_many(self, connection: DBAPIConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Within the caller's transaction on `connection`."""
        cursor = connection.cursor()
        try:
            if self.positions is None:
                cursor.executemany(self.sql, [self.named(row) for row in rows])
            else:
                cursor.executemany(self.sql, [self.positional(row) for row in rows])
        finally:
            cursor.close()
