"""Tasks in SQLite: a file keeps them across restarts, `:memory:` (the default) does not.

Calls are synchronous; a local SQLite query takes microseconds, which is fine for a demo.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from switchboard_example_tasks_api.models import ListQuery, Task, TaskCreate, TaskUpdate

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    description TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    due_date TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    completed_at TEXT
)
"""


_ORDER = "done, due_date IS NULL, due_date, id"
"""Open tasks first, soonest due first, undated last."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class TaskStore:
    def __init__(self, path: str = ":memory:", now: Callable[[], datetime] = utc_now) -> None:
        self._db = sqlite3.connect(path)
        self._db.row_factory = sqlite3.Row
        self._db.execute(SCHEMA)
        self._now = now

    def close(self) -> None:
        self._db.close()

    def search(self, query: ListQuery) -> tuple[list[Task], int]:
        """Matching tasks, open ones first by due date, and how many match in all."""
        clauses: list[str] = ["1 = 1"]
        params: list[object] = []
        if query.done is not None:
            clauses.append("done = ?")
            params.append(int(query.done))
        if query.tag is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(tasks.tags) WHERE value = ?)")
            params.append(query.tag)
        if query.due_before is not None:
            clauses.append("due_date < ?")
            params.append(query.due_before.isoformat())
        # The clauses are the constants above; every value is a bound parameter.
        where = " AND ".join(clauses)
        count = f"SELECT count(*) FROM tasks WHERE {where}"  # noqa: S608
        select = f"SELECT * FROM tasks WHERE {where} ORDER BY {_ORDER} LIMIT ? OFFSET ?"  # noqa: S608
        total = self._db.execute(count, params).fetchone()[0]
        rows = self._db.execute(select, [*params, query.limit, query.offset]).fetchall()
        return [_task(row) for row in rows], int(total)

    def create(self, body: TaskCreate) -> Task:
        now = self._now().isoformat()
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO tasks (title, description, tags, due_date, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    body.title,
                    body.description,
                    json.dumps(body.tags),
                    _day(body.due_date),
                    now,
                    now,
                ),
            )
        task = self.get(int(cursor.lastrowid or 0))
        if task is None:  # pragma: no cover - the row was just written
            raise RuntimeError("the new task vanished")
        return task

    def get(self, task_id: int) -> Task | None:
        row = self._db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return None if row is None else _task(row)

    def update(self, task_id: int, body: TaskUpdate) -> Task | None:
        changes = {field: getattr(body, field) for field in body.model_fields_set}
        done = changes.pop("done", None)
        task = self._write(task_id, changes)
        if task is None or done is None or done == task.done:
            return task
        if done:
            return self.complete(task_id)
        return self._write(task_id, {"done": False, "completed_at": None})

    def complete(self, task_id: int) -> Task | None:
        task = self.get(task_id)
        if task is None or task.done:
            return task
        return self._write(task_id, {"done": True, "completed_at": self._now().isoformat()})

    def delete(self, task_id: int) -> bool:
        with self._db:
            return self._db.execute("DELETE FROM tasks WHERE id = ?", (task_id,)).rowcount > 0

    def _write(self, task_id: int, changes: dict[str, Any]) -> Task | None:
        columns = {name: _column(name, value) for name, value in changes.items()}
        columns["updated_at"] = self._now().isoformat()
        # Column names come from the models' field names, never from the request.
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._db:
            self._db.execute(
                f"UPDATE tasks SET {assignments} WHERE id = ?",  # noqa: S608
                [*columns.values(), task_id],
            )
        return self.get(task_id)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _column(name: str, value: Any) -> Any:
    if name == "tags":
        return json.dumps(value)
    if name == "due_date":
        return _day(value)
    if name == "done":
        return int(value)
    return value


def _task(row: sqlite3.Row) -> Task:
    fields = {**dict(row), "tags": json.loads(row["tags"]), "done": bool(row["done"])}
    return Task.model_validate(fields)
