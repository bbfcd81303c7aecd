"""Agent runs, their events in order, and the approvals they wait for.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_run",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("agent_name", sa.String(length=64), nullable=False),
        sa.Column("agent_version_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("sealed_answers", sa.LargeBinary(), nullable=True),
        sa.Column("sealed_history", sa.LargeBinary(), nullable=True),
        sa.Column("pending_calls", sa.JSON(), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("active_seconds", sa.Float(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("runner", sa.String(length=32), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_version_id"], ["agent_version.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agent_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_run_agent_name"), ["agent_name"])
        batch_op.create_index(batch_op.f("ix_agent_run_agent_version_id"), ["agent_version_id"])
        batch_op.create_index(batch_op.f("ix_agent_run_status"), ["status"])
        batch_op.create_index(batch_op.f("ix_agent_run_user_id"), ["user_id"])
    op.create_table(
        "agent_run_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("tool_call_id", sa.String(length=200), nullable=False),
        sa.Column("tool", sa.String(length=200), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["agent_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agent_run_approval", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_run_approval_run_id"), ["run_id"])
    op.create_table(
        "agent_run_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["agent_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("agent_run_event")
    with op.batch_alter_table("agent_run_approval", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_run_approval_run_id"))
    op.drop_table("agent_run_approval")
    with op.batch_alter_table("agent_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_run_user_id"))
        batch_op.drop_index(batch_op.f("ix_agent_run_status"))
        batch_op.drop_index(batch_op.f("ix_agent_run_agent_version_id"))
        batch_op.drop_index(batch_op.f("ix_agent_run_agent_name"))
    op.drop_table("agent_run")
