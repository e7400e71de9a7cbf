"""Initial schema: runs, eval_logs, metrics, determinations.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
    )
    op.create_table(
        "eval_logs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False, index=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("created", sa.String(64), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=True),
    )
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("log_id", sa.Integer, sa.ForeignKey("eval_logs.id"), nullable=False, index=True),
        sa.Column("model", sa.String(200), nullable=False, index=True),
        sa.Column("metric", sa.String(200), nullable=False, index=True),
        sa.Column("k", sa.Integer, nullable=True),
        sa.Column("n", sa.Integer, nullable=True),
        sa.Column("estimate", sa.Float, nullable=False),
        sa.Column("low", sa.Float, nullable=False),
        sa.Column("high", sa.Float, nullable=False),
        sa.Column("sample_ids", sa.JSON, nullable=False),
        sa.UniqueConstraint("log_id", "model", "metric"),
    )
    op.create_table(
        "determinations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("model", sa.String(200), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    for table in ("determinations", "metrics", "eval_logs", "runs"):
        op.drop_table(table)
