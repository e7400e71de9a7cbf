"""Published results: numbers from system cards, papers and leaderboards, with their source.

Revision ID: report_0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "report_0002"
down_revision = "0002"  # after the incomplete-evidence columns
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(200), nullable=False, index=True),
        sa.Column("developer", sa.String(200), nullable=False),
        sa.Column("open_weights", sa.Boolean, nullable=False),
        sa.Column("release_date", sa.String(10), nullable=False),
        sa.Column("benchmark", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False, index=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("k", sa.Integer, nullable=True),
        sa.Column("n", sa.Integer, nullable=True),
        sa.Column("low", sa.Float, nullable=False),
        sa.Column("high", sa.Float, nullable=False),
        sa.Column("source_url", sa.Text, nullable=False),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("model", "benchmark", "source_url", name="uq_published_model_benchmark_source"),
    )


def downgrade() -> None:
    op.drop_table("published_results")
