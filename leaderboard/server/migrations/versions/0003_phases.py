"""Phases (dev, test, closed), the test split's private part and each team's selection.

A `phases` table; on `submissions` the phase a submission was made in, whether it is
selected for the private ranking, and its metrics on the public and private parts. Rows made
before this revision keep `phase` NULL: their phase is derived from their split
(`leaderboard.server.phases.phase_of`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(16), nullable=False, unique=True),
        sa.Column("split", sa.String(100), nullable=False),
        sa.Column("opens_utc", sa.DateTime(), nullable=False),
        sa.Column("closes_utc", sa.DateTime(), nullable=True),
        sa.Column("revealed_utc", sa.DateTime(), nullable=True),
        sa.Column("per_day", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("max_selected", sa.Integer(), nullable=True),
        sa.Column("private_seed", sa.BigInteger(), nullable=True),
        sa.Column("private_fraction", sa.Float(), nullable=True),
    )
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("phase", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("selected", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("public_metrics_json", sa.Text(), nullable=True))
        batch.add_column(sa.Column("private_metrics_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("private_metrics_json")
        batch.drop_column("public_metrics_json")
        batch.drop_column("selected")
        batch.drop_column("phase")
    op.drop_table("phases")
