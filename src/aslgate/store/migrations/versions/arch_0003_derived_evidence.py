"""Evidence is derived: each log keeps its task version, summary and derivation version, each metric row
its derivation version.

Logs ingested before this revision have task version 0, no summary and no derivation version, so the
next ingest of such a log derives its rows again with the current suites.

Revision ID: arch_0003
Revises: report_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "arch_0003"
down_revision = "report_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("eval_logs") as t:
        t.add_column(sa.Column("task_version", sa.Integer, nullable=False, server_default="0"))
        t.add_column(sa.Column("summary", sa.JSON, nullable=True))
        t.add_column(sa.Column("derivation", sa.Integer, nullable=True))
    with op.batch_alter_table("metrics") as t:
        t.add_column(sa.Column("derivation", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("metrics") as t:
        t.drop_column("derivation")
    with op.batch_alter_table("eval_logs") as t:
        t.drop_column("derivation")
        t.drop_column("summary")
        t.drop_column("task_version")
