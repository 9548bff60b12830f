"""Teams and submissions.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("token_key_id", sa.String(32), nullable=False, unique=True),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_utc", sa.DateTime(), nullable=False),
        sa.Column("revoked_utc", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("dataset", sa.String(100), nullable=True),
        sa.Column("split", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("submitted_utc", sa.DateTime(), nullable=False),
        sa.Column("scored_utc", sa.DateTime(), nullable=True),
        sa.Column("t2v_sha256", sa.String(64), nullable=True),
        sa.Column("v2t_sha256", sa.String(64), nullable=True),
        sa.Column("truth_sha256", sa.String(64), nullable=True),
        sa.Column("metrics_json", sa.Text(), nullable=True),
        sa.Column("details_json", sa.Text(), nullable=True),
        sa.Column("scorer_version", sa.String(50), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.UniqueConstraint("truth_sha256", "t2v_sha256", "v2t_sha256", name="uq_submission_files"),
    )
    op.create_index("ix_submissions_team_time", "submissions", ["team_id", "submitted_utc"])
    op.create_index("ix_submissions_status", "submissions", ["status"])


def downgrade() -> None:
    op.drop_index("ix_submissions_status", "submissions")
    op.drop_index("ix_submissions_team_time", "submissions")
    op.drop_table("submissions")
    op.drop_table("teams")
