"""Versions keep the log of a failed sandbox build or first start.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:44:57.789610
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("server_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("build_log", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("server_version", schema=None) as batch_op:
        batch_op.drop_column("build_log")
