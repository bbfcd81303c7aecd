"""Request and response bodies, mirrored by `components/schemas` in `openapi.yaml`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Title = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=2000)]
Tag = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Tags = Annotated[list[Tag], Field(max_length=20)]


class _Body(BaseModel):
    """A JSON body, validated strictly: `"true"` is not a boolean, `5` is not a date."""

    model_config = ConfigDict(extra="forbid", strict=True)


class TaskCreate(_Body):
    title: Title
    description: Description | None = None
    tags: Tags = Field(default_factory=list)
    due_date: date | None = None


class TaskUpdate(_Body):
    """Only the fields present change; `null` clears `description` or `due_date`."""

    title: Title | None = None
    description: Description | None = None
    tags: Tags | None = None
    due_date: date | None = None
    done: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _null_only_where_clearable(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in ("title", "tags", "done"):
                if name in data and data[name] is None:
                    raise ValueError(f"`{name}` cannot be null; leave it out to keep it")
        return data


class ListQuery(BaseModel):
    """Query parameters arrive as strings, so these are converted, not strictly checked."""

    model_config = ConfigDict(extra="forbid")

    done: bool | None = None
    tag: Tag | None = None
    due_before: date | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class Task(BaseModel):
    id: int
    title: str
    description: str | None
    tags: list[str]
    due_date: date | None
    done: bool
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class TaskList(BaseModel):
    tasks: list[Task]
    total: int = Field(description="Tasks matching the filters, before `limit`/`offset`.")
