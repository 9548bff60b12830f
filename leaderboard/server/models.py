"""The server's tables (SQLAlchemy): teams, their submissions and the board's phases.

The schema is created and changed only by the Alembic migrations in `migrations/`; these
classes must match the latest revision (a test compares them). Times are naive UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Submission.status values, in the order a submission moves through them.
RECEIVING, QUEUED, SCORING, SCORED, FAILED = "receiving", "queued", "scoring", "scored", "failed"
NAME_MAX = 200  # column sizes; the accepted lengths are leaderboard.board.TEXT_LIMITS


def utcnow() -> dt.datetime:
    """The current UTC time, naive (as every time column stores it)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    """The declarative base of the server's tables."""


class Team(Base):
    """A team allowed to submit; `token_sha256` is the digest of its token's secret."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    token_key_id: Mapped[str] = mapped_column(String(32), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64))
    created_utc: Mapped[dt.datetime]
    revoked_utc: Mapped[dt.datetime | None]

    submissions: Mapped[list[Submission]] = relationship(back_populates="team")


class Submission(Base):
    """One uploaded run pair and its scoring outcome.

    `dataset`, `split` and the SHA-256s are known once the upload is complete (status
    `queued`); identical files against the same truth are refused by the unique constraint,
    and so are identical rankings once scored (`rankings_sha256`, set only when scored, so
    failed submissions never block anything).
    `attempts` counts how often a worker claimed it (1 for a submission scored once).
    """

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("truth_sha256", "t2v_sha256", "v2t_sha256", name="uq_submission_files"),
        Index("uq_submission_rankings", "truth_sha256", "rankings_sha256", unique=True),
        Index("ix_submissions_team_time", "team_id", "submitted_utc"),
        Index("ix_submissions_status", "status"),
        Index("ix_submissions_protocol", "dataset", "protocol_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    dataset: Mapped[str | None] = mapped_column(String(100))
    split: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    submitted_utc: Mapped[dt.datetime]
    scored_utc: Mapped[dt.datetime | None]
    t2v_sha256: Mapped[str | None] = mapped_column(String(64))
    v2t_sha256: Mapped[str | None] = mapped_column(String(64))
    truth_sha256: Mapped[str | None] = mapped_column(String(64))
    rankings_sha256: Mapped[str | None] = mapped_column(String(64))
    metrics_json: Mapped[str | None] = mapped_column(Text)
    details_json: Mapped[str | None] = mapped_column(Text)
    scorer_version: Mapped[str | None] = mapped_column(String(50))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Phases (revision 0003): the phase the submission was made in (None: made before the
    # board had phases, see `leaderboard.server.phases.phase_of`), whether the team selected
    # it for the private ranking, and its metrics on the test split's public and private parts.
    phase: Mapped[str | None] = mapped_column(String(16))
    selected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    public_metrics_json: Mapped[str | None] = mapped_column(Text)
    private_metrics_json: Mapped[str | None] = mapped_column(Text)
    # Board columns (revision 0004): a host's baseline is shown but never ranked; the
    # artefacts and training data are what the submitter declared; the protocol card is
    # `ProtocolCard.to_json()` and its `card_hash`; `query_ranks` (server-side only, never
    # served) holds the first relevant ranks per direction (`board_columns.pack_ranks`).
    is_baseline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    code_url: Mapped[str | None] = mapped_column(String(500))
    code_commit: Mapped[str | None] = mapped_column(String(40))
    checkpoint_sha256: Mapped[str | None] = mapped_column(String(64))
    training_data: Mapped[str | None] = mapped_column(Text)
    protocol_json: Mapped[str | None] = mapped_column(Text)
    protocol_hash: Mapped[str | None] = mapped_column(String(64))
    query_ranks: Mapped[bytes | None] = mapped_column(LargeBinary)

    team: Mapped[Team] = relationship(back_populates="submissions")

    @property
    def metrics(self) -> dict[str, Any] | None:
        """The scorer's metrics document (`Metrics.to_json()`), None until scored."""
        return None if self.metrics_json is None else json.loads(self.metrics_json)

    @property
    def details(self) -> dict[str, Any] | None:
        """Per-query details, None unless scored on a split that keeps them."""
        return None if self.details_json is None else json.loads(self.details_json)


class Phase(Base):
    """One phase of the board (`dev`, `test` or `closed`; at most one row each).

    The phase open at a submission's arrival (`opens_utc <= now < closes_utc`, no end when
    `closes_utc` is None) decides what it is scored against (`split`) and counts against
    `per_day`/`total` (None: the server's `--per-day`/`--total`). The test phase also holds
    the private split's seed and fraction (never served) and how many submissions a team may
    select for the private ranking; `revealed_utc` is set by `phase reveal`.
    """

    __tablename__ = "phases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(16), unique=True)
    split: Mapped[str] = mapped_column(String(100))
    opens_utc: Mapped[dt.datetime]
    closes_utc: Mapped[dt.datetime | None]
    revealed_utc: Mapped[dt.datetime | None]
    per_day: Mapped[int | None] = mapped_column(Integer)
    total: Mapped[int | None] = mapped_column(Integer)
    max_selected: Mapped[int | None] = mapped_column(Integer)
    private_seed: Mapped[int | None] = mapped_column(BigInteger)
    private_fraction: Mapped[float | None] = mapped_column(Float)
