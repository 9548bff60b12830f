"""Submissions in the database: reserve a slot (limits), queue, claim for scoring, record.

Every state change is one short write transaction (`Database.write`). A slot is reserved
before the upload is read, so concurrent uploads of one team cannot together exceed its
limits; a failed or refused upload gives the slot back.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from leaderboard import board
from leaderboard.errors import LeaderboardError
from leaderboard.metrics import Metrics
from leaderboard.server.db import Database
from leaderboard.server.models import (
    FAILED,
    QUEUED,
    RECEIVING,
    SCORED,
    SCORING,
    Submission,
    Team,
    utcnow,
)
from leaderboard.server.scoring import Outcome


@dataclass(frozen=True)
class Limits:
    """Per-team submission limits, size caps (bytes) and how long an upload may stall."""

    per_day: int = 5
    total: int = 100
    max_upload_bytes: int = 512 << 20  # per run file, as uploaded (compressed or not)
    max_run_bytes: int = 2 << 30  # per run file, uncompressed (the scorer's --max-bytes)
    stall_timeout_s: float = 60.0  # an upload that sends nothing for this long is dropped


class LimitReached(LeaderboardError):
    """A team has used its daily or total submissions; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DuplicateSubmission(LeaderboardError):
    """Identical files were already submitted against the same truth; `own`: by the same team
    (for the host's baselines: already a baseline), else by another team or not known;
    `earlier`: the id of the same team's earlier submission (None when not `own`), for its
    status and reason (`get`)."""

    def __init__(self, message: str, own: bool = False, earlier: int | None = None) -> None:
        super().__init__(message)
        self.own = own
        self.earlier = earlier


def _start_of_day(now: dt.datetime) -> dt.datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def reserve(db: Database, team_id: int, limits: Limits | None, phase: str | None = None) -> int:
    """Insert a `receiving` submission for the team; returns its id.

    Every submission counts (failed ones too: each costs a scoring run); the day is the UTC
    calendar day. `limits` None: none apply (the host's baselines). On a board with phases,
    `phase` is the phase open now: the submission belongs to it and only that phase's
    submissions count against `limits` (its limits).

    Raises:
        LimitReached: the team reached `limits.per_day` today or `limits.total` overall.
    """
    now = utcnow()
    with db.write() as session:
        # Row lock on PostgreSQL (serialises one team's reservations); SQLite has one writer.
        session.execute(select(Team.id).where(Team.id == team_id).with_for_update())
        if limits is not None:
            _check_limits(session, team_id, now, limits, phase)
        row = Submission(
            team_id=team_id, status=RECEIVING, submitted_utc=now, attempts=0, phase=phase
        )
        session.add(row)
        session.flush()
        return row.id


def _check_limits(
    session: Session, team_id: int, now: dt.datetime, limits: Limits, phase: str | None
) -> None:
    today, total = _counts(session, team_id, now, phase)
    if total >= limits.total:
        raise LimitReached(f"total limit of {limits.total} submissions reached", None)
    if today >= limits.per_day:
        tomorrow = _start_of_day(now) + dt.timedelta(days=1)
        raise LimitReached(
            f"daily limit of {limits.per_day} submissions reached (UTC day)",
            max(1, int((tomorrow - now).total_seconds())),
        )


def _counts(
    session: Session, team_id: int, now: dt.datetime, phase: str | None = None
) -> tuple[int, int]:
    """(submissions today (UTC), submissions ever) of a team, failed ones included; only
    those of `phase` when given."""
    counts = select(func.count()).select_from(Submission).where(Submission.team_id == team_id)
    if phase is not None:
        counts = counts.where(Submission.phase == phase)
    today = session.scalar(counts.where(Submission.submitted_utc >= _start_of_day(now)))
    return today, session.scalar(counts)


def usage(db: Database, team_id: int, phase: str | None = None) -> tuple[int, int]:
    """(submissions today (UTC), submissions ever) of a team: what counts against its limits
    (in `phase` only, when given)."""
    with db.read() as session:
        return _counts(session, team_id, utcnow(), phase)


def discard(db: Database, submission_id: int) -> None:
    """Delete a submission whose upload was refused or broke off (its slot is given back)."""
    with db.write() as session:
        session.execute(delete(Submission).where(Submission.id == submission_id))


@dataclass(frozen=True)
class Upload:
    """What is known about a complete upload; the board columns (revision 0004) are what the
    submitter declared (`leaderboard.server.declared`), `is_baseline` only for the host's."""

    name: str
    description: str
    dataset: str
    split: str
    truth_sha256: str
    t2v_sha256: str
    v2t_sha256: str
    is_baseline: bool = False
    code_url: str | None = None
    code_commit: str | None = None
    checkpoint_sha256: str | None = None
    training_data: str | None = None
    protocol_json: str | None = None
    protocol_hash: str | None = None


def enqueue(db: Database, submission_id: int, upload: Upload, claimed: bool = False) -> None:
    """Fill in a complete upload and queue it for scoring (`claimed`: mark it as being scored
    by the caller instead, attempt 1, so no worker claims it; a stopped caller's claim is
    given back on the server's next start, `recover`).

    Raises:
        DuplicateSubmission: identical files were already submitted against the same truth.
    """
    same_files = (
        (Submission.truth_sha256 == upload.truth_sha256)
        & (Submission.t2v_sha256 == upload.t2v_sha256)
        & (Submission.v2t_sha256 == upload.v2t_sha256)
    )
    try:
        with db.write() as session:
            earlier = session.execute(
                select(Submission.id, Submission.submitted_utc, Submission.team_id).where(
                    same_files
                )
            ).first()
            if earlier is not None:
                own = earlier.team_id == session.get(Submission, submission_id).team_id
                raise DuplicateSubmission(
                    f"identical files were already submitted as #{earlier.id} "
                    f"on {earlier.submitted_utc:%Y-%m-%d}"
                    if own
                    else "identical files were already submitted by another team",
                    own,
                    earlier.id if own else None,
                )
            session.execute(
                update(Submission)
                .where(Submission.id == submission_id)
                .values(
                    status=SCORING if claimed else QUEUED,
                    attempts=1 if claimed else 0,
                    **vars(upload),
                )
            )
    except IntegrityError:  # another process queued the same files in between
        raise DuplicateSubmission("identical files were already submitted") from None


def claim_next(db: Database) -> tuple[int, str] | None:
    """Mark the oldest queued submission of a team with none being scored as `scoring`.

    Returns:
        (submission id, split name), or None when nothing can be claimed now.
    """
    busy = aliased(Submission)
    team_busy = exists().where((busy.team_id == Submission.team_id) & (busy.status == SCORING))
    with db.write() as session:
        candidate = session.execute(
            select(Submission.id, Submission.split)
            .where((Submission.status == QUEUED) & ~team_busy)
            .order_by(Submission.id)
            .limit(1)
        ).first()
        if candidate is None:
            return None
        claimed = session.execute(
            update(Submission)
            .where((Submission.id == candidate.id) & (Submission.status == QUEUED))
            .values(status=SCORING, attempts=Submission.attempts + 1)
        )
        return (candidate.id, candidate.split) if claimed.rowcount == 1 else None


def record(db: Database, submission_id: int, outcome: Outcome, scorer_version: str) -> None:
    """Store a scoring outcome: `scored` with metrics (and details, and the public and private
    parts' metrics in a test phase), or `failed` with a reason.

    A scored run pair whose rankings (`Outcome.rankings_sha256`) equal those of a submission
    already scored against the same truth is recorded as `failed`, naming that submission: a
    copy of another run (decompressed, reordered, rescored) does not reach the board twice.
    """
    done = {"scored_utc": utcnow(), "scorer_version": scorer_version}
    if outcome.metrics is None:
        values = {**done, "status": FAILED, "reason": outcome.reason}
    else:
        values = dict(
            done,
            status=SCORED,
            metrics_json=json.dumps(outcome.metrics.to_json()),
            details_json=None if outcome.details is None else json.dumps(outcome.details),
            rankings_sha256=outcome.rankings_sha256,
            query_ranks=outcome.query_ranks,
            public_metrics_json=_metrics_json(outcome.public_metrics),
            private_metrics_json=_metrics_json(outcome.private_metrics),
        )
    try:
        _update(db, submission_id, values)
    except IntegrityError:  # the same rankings were scored first (maybe by another worker)
        reason = _copy_reason(db, submission_id, outcome.rankings_sha256)
        _update(db, submission_id, {**done, "status": FAILED, "reason": reason})


def _metrics_json(metrics: Metrics | None) -> str | None:
    return None if metrics is None else json.dumps(metrics.to_json())


def _update(db: Database, submission_id: int, values: dict) -> None:
    with db.write() as session:
        session.execute(update(Submission).where(Submission.id == submission_id).values(**values))


def _copy_reason(db: Database, submission_id: int, rankings_sha256: str | None) -> str:
    """Why a submission is refused when another one already has its rankings (another
    team's submission is not named: teams learn nothing of each other's work from a refusal)."""
    with db.read() as session:
        this = session.get(Submission, submission_id)
        earlier = session.execute(
            select(Submission.id, Submission.team_id).where(
                (Submission.rankings_sha256 == rankings_sha256)
                & (Submission.truth_sha256 == this.truth_sha256)
            )
        ).first()
    which = (
        f"submission #{earlier.id}"
        if earlier is not None and earlier.team_id == this.team_id
        else "a submission of another team"
    )
    return (
        f"the same rankings as {which} (the files differ only in compression, line order, "
        "spacing, run tag or scores that keep the order)"
    )


MAX_ATTEMPTS = 3  # claims of one submission before it is failed instead of re-queued
GAVE_UP = (
    "internal error: scoring was interrupted {attempts} times (a database error or a server "
    "restart); the organisers were notified"
)


@dataclass(frozen=True)
class Released:
    """What `release_claims` did: the ids put back in the queue and the ids failed."""

    requeued: list[int]
    failed: list[int]


def release_claims(
    db: Database, held: Collection[int] = (), max_attempts: int = MAX_ATTEMPTS
) -> Released:
    """Give back every claim (`scoring`) that no worker holds, so no team stays blocked.

    A claim is left behind when recording the outcome fails (SQLite's write lock held past
    `busy_timeout`, a dropped PostgreSQL connection), when a claim committed but its answer
    was lost, or when the server stopped while scoring. A submission claimed fewer than
    `max_attempts` times goes back to the queue (it is scored again); one claimed that often
    is failed with a neutral reason (`GAVE_UP`), so a submission that keeps breaking the
    server cannot loop forever. Only one server process may use a database (see `recover`).

    Args:
        db: the server's database.
        held: ids this process's workers are scoring now (left alone).
        max_attempts: claims after which a submission is failed instead of re-queued.

    Returns:
        The re-queued and the failed ids.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable (call again later).
    """
    orphaned = (Submission.status == SCORING) & ~Submission.id.in_(list(held))
    with db.write() as session:
        rows = session.execute(select(Submission.id, Submission.attempts).where(orphaned)).all()
        requeued = [row.id for row in rows if row.attempts < max_attempts]
        failed = [row.id for row in rows if row.attempts >= max_attempts]
        if requeued:
            session.execute(
                update(Submission).where(Submission.id.in_(requeued)).values(status=QUEUED)
            )
        for row in rows:
            if row.attempts >= max_attempts:
                session.execute(
                    update(Submission)
                    .where(Submission.id == row.id)
                    .values(
                        status=FAILED,
                        reason=GAVE_UP.format(attempts=row.attempts),
                        scored_utc=utcnow(),
                    )
                )
    return Released(requeued, failed)


def recover(db: Database) -> list[int]:
    """After a restart: give back the claims of a stopped server (`release_claims`: re-queued,
    or failed after `MAX_ATTEMPTS`), and drop uploads that never completed. Returns the ids of
    the dropped ones (their files are to be deleted)."""
    release_claims(db)
    with db.write() as session:
        broken = list(session.scalars(select(Submission.id).where(Submission.status == RECEIVING)))
        session.execute(delete(Submission).where(Submission.id.in_(broken)))
    return broken


MAX_ID = 2**63 - 1  # the largest SQL BIGINT (SQLite's INTEGER)


def get(db: Database, submission_id: int) -> tuple[Submission, str] | None:
    """A submission and its team's name, or None (also for uploads still being received, and
    for ids no database integer can hold, e.g. from a URL)."""
    if not 0 < submission_id <= MAX_ID:
        return None
    with db.read() as session:
        row = session.execute(
            select(Submission, Team.name)
            .join(Team)
            .where((Submission.id == submission_id) & (Submission.status != RECEIVING))
        ).first()
    return None if row is None else (row[0], row[1])


def scored(
    db: Database, dataset: str | None = None, split: str | None = None
) -> list[board.Submission]:
    """Scored submissions as the renderer's records (oldest first), optionally filtered."""
    query = select(Submission, Team.name).join(Team).where(Submission.status == SCORED)
    if dataset:
        query = query.where(Submission.dataset == dataset)
    if split:
        query = query.where(Submission.split == split)
    with db.read() as session:
        rows = session.execute(query.order_by(Submission.id)).all()
    return [as_record(row, team) for row, team in rows]


def as_record(row: Submission, team: str) -> board.Submission:
    """A database row as the renderer's record (`leaderboard.board.Submission`)."""
    return board.Submission(
        id=row.id,
        name=row.name,
        team=team,
        description=row.description,
        dataset=row.dataset or "",
        split=row.split or "",
        submitted_utc=f"{row.submitted_utc:%Y-%m-%dT%H:%M:%SZ}",
        t2v_sha256=row.t2v_sha256 or "",
        v2t_sha256=row.v2t_sha256 or "",
        truth_sha256=row.truth_sha256 or "",
        metrics=Metrics.from_json(row.metrics or {}),
        scorer_version=row.scorer_version or "",
    )
