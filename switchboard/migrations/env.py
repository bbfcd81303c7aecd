"""Alembic environment: migrations run on a synchronous connection handed in by `migrate.py`."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import agents.models.tables
import agents.runs.tables
import agents.tables  # noqa: F401  (agents and their published versions)
import registry.models  # noqa: F401  (registers the catalogue tables)
import switchboard.audit.models
import switchboard.identity.models  # noqa: F401  (sign-in, OAuth and token tables)

target_metadata = SQLModel.metadata
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
