"""Rankings fingerprint: a run pair whose rankings were already scored is refused.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("rankings_sha256", sa.String(64), nullable=True))
    op.create_index(
        "uq_submission_rankings", "submissions", ["truth_sha256", "rankings_sha256"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_submission_rankings", "submissions")
    op.drop_column("submissions", "rankings_sha256")
