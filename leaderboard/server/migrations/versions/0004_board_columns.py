"""Board columns: baselines, artefact links, training data, protocol cards, per-query ranks.

Existing rows keep their values and become team submissions without a declared card (the
board derives one from their truth), training data or artefacts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = (
    ("is_baseline", sa.Boolean(), False, sa.false()),
    ("code_url", sa.String(500), True, None),
    ("code_commit", sa.String(40), True, None),
    ("checkpoint_sha256", sa.String(64), True, None),
    ("training_data", sa.Text(), True, None),
    ("protocol_json", sa.Text(), True, None),
    ("protocol_hash", sa.String(64), True, None),
    ("query_ranks", sa.LargeBinary(), True, None),
)


def upgrade() -> None:
    for name, kind, nullable, default in COLUMNS:
        op.add_column(
            "submissions", sa.Column(name, kind, nullable=nullable, server_default=default)
        )
    op.create_index("ix_submissions_protocol", "submissions", ["dataset", "protocol_hash"])


def downgrade() -> None:
    op.drop_index("ix_submissions_protocol", "submissions")
    with op.batch_alter_table("submissions") as batch:
        for name, *_ in reversed(COLUMNS):
            batch.drop_column(name)
