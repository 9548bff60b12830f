"""The host's baselines: run pairs of the harness put on the board by the host, tagged as
baselines (shown with a badge, never ranked, never the leader; `standings`).

They belong to a host team whose token is revoked the moment it is made, so nobody can submit
as it; they are scored here, with the server's scorer against the same truth, right away
(a server sharing the database shows them on its next request). Identical files or rankings
already on the board are refused as for any submission.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from leaderboard.board import clean_fields
from leaderboard.errors import BoardError
from leaderboard.server import store
from leaderboard.server.db import Database
from leaderboard.server.declared import declared_fields
from leaderboard.server.models import Team, utcnow
from leaderboard.server.scoring import score_stored
from leaderboard.server.teams import add_team
from leaderboard.server.truth import Truth
from leaderboard.server.worker import scorer_version
from mrw.core.provenance import file_sha256

HOST_TEAM = "MRW harness (host baselines)"


@dataclass(frozen=True)
class Baseline:
    """One finished harness run to put on the board.

    Attributes:
        name: the method name shown (the run record's method).
        description: one line under it (e.g. the run folder and seed).
        split: the truth's split the run was evaluated on.
        t2v, v2t: its run files.
        declared: the text fields of `declared.declared_fields` (training data, code commit,
            checkpoint SHA-256, protocol card JSON, code URL).
    """

    name: str
    description: str
    split: str
    t2v: Path
    v2t: Path
    declared: Mapping[str, str]


def host_team(db: Database, name: str = HOST_TEAM) -> int:
    """The id of the host's baseline team, created (with a revoked token) on first use."""
    name = clean_fields(team=name)["team"]
    with db.read() as session:
        team_id = session.scalar(select(Team.id).where(Team.name == name))
    if team_id is not None:
        return team_id
    add_team(db, name)
    with db.write() as session:
        team = session.scalar(select(Team).where(Team.name == name))
        team.revoked_utc = utcnow()  # baselines are the host's: no token submits as it
        return team.id


def add_baseline(
    db: Database, truth: Truth, team_id: int, baseline: Baseline, max_bytes: int
) -> tuple[int, str | None]:
    """Record, score and store one baseline.

    Args:
        db: the server's (migrated) database.
        truth: the truth the server scores against.
        team_id: from `host_team`.
        baseline: the run pair and its declarations.
        max_bytes: uncompressed size limit per run file.

    Returns:
        (submission id, None) when scored, or (submission id, the failure reason).

    Raises:
        BoardError: a split the truth does not have, a refused declaration, or identical files
            already submitted (`store.DuplicateSubmission` is a `LeaderboardError`).
    """
    split = truth.splits.get(baseline.split)
    if split is None:
        raise BoardError(
            f"split {baseline.split!r} is not in the truth ({', '.join(sorted(truth.splits))})"
        )
    fields = clean_fields(name=baseline.name, description=baseline.description, label_prefix="")
    declared = declared_fields(baseline.declared, truth.dataset, split.name, split.sha256)
    upload = store.Upload(
        **fields,
        **declared,
        dataset=truth.dataset,
        split=split.name,
        truth_sha256=split.sha256,
        t2v_sha256=file_sha256(baseline.t2v),
        v2t_sha256=file_sha256(baseline.v2t),
        is_baseline=True,
    )
    submission_id = store.reserve(db, team_id, None)
    try:
        store.enqueue(db, submission_id, upload, claimed=True)
    except Exception:
        store.discard(db, submission_id)
        raise
    with tempfile.TemporaryDirectory(prefix="mrw-baseline-") as folder:
        for direction, source in (("t2v", baseline.t2v), ("v2t", baseline.v2t)):
            shutil.copyfile(source, Path(folder) / f"{direction}.run")
        outcome = score_stored(folder, split, max_bytes)
    store.record(db, submission_id, outcome, scorer_version())
    row = store.get(db, submission_id)
    return submission_id, None if row is None or row[0].reason is None else row[0].reason
