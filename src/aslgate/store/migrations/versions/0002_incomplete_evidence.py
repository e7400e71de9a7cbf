"""Metric rows count the samples behind them that errored or were never scored.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.add_column(sa.Column("errored", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("unscored", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.drop_column("unscored")
        batch.drop_column("errored")
