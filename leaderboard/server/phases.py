"""Phases of a hosted board: `dev`, `test` (with a private split), `closed`; selection; reveal.

A board without phase rows works as before phases: any split may be submitted to, public
splits get per-query details, hidden ones aggregates only. Once the host opens a phase
(`mrw-leaderboard phase open`), the phase open when a submission arrives decides what it is
scored against and which limits it counts against:

- `dev`: the validation split (public): metrics and per-query detail to the team.
- `test`: the hidden test split, scored on all its queries and, separately, on a public and a
  private part (a seeded split of its queries, made once per board, never served). Until the
  reveal every API and page shows the public part's metrics only.
- `closed`: the permanent board once the test phase is revealed: the test split, all its
  queries, aggregates only.

`reveal` closes the test phase and ranks each team's selected submissions (at most
`max_selected`, chosen with `mrw-leaderboard select`; a team that chose none gets its best
public one, by rsum) on the private part. The public board stays; the private board and the
permanent board (all test queries) appear beside it. This follows the public/private
leaderboard of Kaggle competitions and the phases of EvalAI and CodaLab.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from collections.abc import Sequence

import numpy as np
from sqlalchemy import func, select, update

from leaderboard import board
from leaderboard.errors import LeaderboardError
from leaderboard.metrics import Metrics, pessimistic_key
from leaderboard.qrels import Qrels
from leaderboard.server.db import Database
from leaderboard.server.models import (
    QUEUED,
    RECEIVING,
    SCORED,
    SCORING,
    Phase,
    Submission,
    Team,
    utcnow,
)
from leaderboard.server.store import as_record
from leaderboard.server.truth import Split, Truth

DEV, TEST, CLOSED = "dev", "test", "closed"
ORDER = (DEV, TEST, CLOSED)  # phases open in this order
DEFAULT_SPLIT = {DEV: "validation", TEST: "test", CLOSED: "test"}
DEFAULT_MAX_SELECTED = 2
DEFAULT_PRIVATE_FRACTION = 0.5
PUBLIC_LABEL, PRIVATE_LABEL = "public", "private"


class PhaseError(LeaderboardError):
    """A phase command or a selection the board's state does not allow (one line)."""


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time (`2026-12-24T12:00`, `...Z`, `...+01:00`) as naive UTC.

    A time without an offset is taken as UTC.

    Raises:
        PhaseError: not an ISO 8601 time.
    """
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PhaseError(
            f"{text[:40]!r} is not an ISO 8601 time (e.g. 2026-12-24T12:00Z)"
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else f"{value:%Y-%m-%dT%H:%M:%SZ}"


def list_phases(db: Database) -> list[Phase]:
    """The board's phases in `ORDER` (none for a board without phases)."""
    with db.read() as session:
        rows = list(session.scalars(select(Phase)))
    return sorted(rows, key=lambda p: ORDER.index(p.name))


def is_open(phase: Phase, now: dt.datetime) -> bool:
    """Whether `phase` takes submissions at `now` (a revealed test phase never does)."""
    return (
        phase.opens_utc <= now
        and (phase.closes_utc is None or now < phase.closes_utc)
        and phase.revealed_utc is None
    )


def current(phases: Sequence[Phase], now: dt.datetime | None = None) -> Phase | None:
    """The phase open at `now` (default: the current UTC time), or None."""
    now = now or utcnow()
    open_now = [p for p in phases if is_open(p, now)]
    return max(open_now, key=lambda p: p.opens_utc) if open_now else None


def public_view(phase: Phase) -> dict:
    """What the API tells anyone about a phase (never the private split's seed or size)."""
    return {
        "name": phase.name,
        "split": phase.split,
        "opens_utc": _when(phase.opens_utc),
        "closes_utc": _when(phase.closes_utc),
        "revealed_utc": _when(phase.revealed_utc),
        "per_day": phase.per_day,
        "total": phase.total,
        "max_selected": phase.max_selected,
    }


def phase_of(row: Submission, truth: Truth) -> str:
    """A submission's phase; for one made before the board had phases (`phase` NULL), the
    implicit phase of its split: `dev` for a public split, else `closed` (scored on the whole
    hidden split, aggregates only: what such a submission was shown before phases)."""
    if row.phase is not None:
        return row.phase
    split = truth.splits.get(row.split or "")
    return DEV if split is not None and split.public else CLOSED


def check(phases: Sequence[Phase], truth: Truth) -> None:
    """Check that every phase scores a split the server has, with the right visibility.

    Raises:
        PhaseError: a phase's split is missing, the dev split is hidden, or the test or
            closed split is public (its per-query details would be served).
    """
    for phase in phases:
        split = truth.splits.get(phase.split)
        if split is None:
            raise PhaseError(
                f"the {phase.name} phase scores split {phase.split!r}, which --truth does not "
                f"have ({', '.join(sorted(truth.splits))})"
            )
        if phase.name == DEV and not split.public:
            raise PhaseError(
                f"the dev phase scores split {phase.split!r}, which is hidden; add "
                f"--public-split {phase.split}"
            )
        if phase.name != DEV and split.public:
            raise PhaseError(
                f"the {phase.name} phase scores split {phase.split!r}, which is a "
                "--public-split: its per-query details would be served"
            )


def private_mask(qrels: Qrels, seed: int, fraction: float, direction: str) -> np.ndarray:
    """Which scored queries of one direction are in the private part.

    The split is made once per board from the seed stored with its test phase: a NumPy
    `default_rng([seed, direction index])` permutation of the scored queries (qrels order)
    whose first `round(fraction * n)` (at least 1, at most n - 1) are private.

    Args:
        qrels: the test split's ground truth of `direction`.
        seed: the test phase's `private_seed`.
        fraction: the test phase's `private_fraction`, in (0, 1).
        direction: `t2v` or `v2t`.

    Returns:
        A bool array `[n]` over `qrels.scored_queries` (True: private).
    """
    n = int(qrels.scored_queries.size)
    rng = np.random.default_rng([int(seed), ("t2v", "v2t").index(direction)])
    n_private = min(max(round(fraction * n), 1), max(n - 1, 1))
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:n_private]] = True
    return mask


@dataclasses.dataclass(frozen=True)
class Opening:
    """What `phase open` is asked to do (None: keep the stored value, or the default)."""

    name: str
    split: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    per_day: int | None = None
    total: int | None = None
    max_selected: int | None = None
    seed: int | None = None
    private_fraction: float | None = None


def open_phase(db: Database, opening: Opening) -> Phase:
    """Open (or re-open, or schedule) a phase from `opening.start` (default now) to
    `opening.end` (default: until another opens); the phase open at that start is closed then.

    Phases open in `ORDER`: one cannot be opened once a later one exists; `closed` only after
    the test phase is revealed (never on a board without one), and a revealed test phase
    never again. The test phase's private split is made once: its seed (given, or random)
    and fraction are stored at the first opening and cannot change.

    Returns:
        The phase as stored.

    Raises:
        PhaseError: any of the rules above, an end not after the start, or a test-phase
            option (selection, seed, fraction) for another phase.
    """
    name, now = opening.name, utcnow()
    start = opening.start or now
    test_only = [opening.max_selected, opening.seed, opening.private_fraction]
    if name != TEST and any(value is not None for value in test_only):
        raise PhaseError("--select, --seed and --private-fraction are options of the test phase")
    if opening.end is not None and opening.end <= start:
        raise PhaseError("--end must be after --start")
    if opening.private_fraction is not None and not 0 < opening.private_fraction < 1:
        raise PhaseError("--private-fraction must be a finite number > 0 and < 1")
    with db.write() as session:
        phases = {p.name: p for p in session.scalars(select(Phase))}
        later = [p for p in ORDER[ORDER.index(name) + 1 :] if p in phases]
        if later:
            raise PhaseError(f"the {later[0]} phase was opened already: phases open in the order "
                             f"{' -> '.join(ORDER)}")  # fmt: skip
        test = phases.get(TEST)
        if name == CLOSED and test is None:
            raise PhaseError("the board has no test phase: `closed` opens only after the test "
                             "phase is revealed (`mrw-leaderboard phase open test`)")  # fmt: skip
        if name == CLOSED and test.revealed_utc is None:
            raise PhaseError("the test phase is not revealed yet: `mrw-leaderboard phase reveal`")
        if name == TEST and test is not None and test.revealed_utc is not None:
            raise PhaseError("the test phase was revealed: its results are final")
        if name == TEST and test is not None:
            stored = (test.private_seed, test.private_fraction)
            asked = (opening.seed, opening.private_fraction)
            if any(a is not None and a != s for a, s in zip(asked, stored, strict=True)):
                raise PhaseError("the private split was made when the test phase first opened; "
                                 "its --seed and --private-fraction cannot change")  # fmt: skip
        for other in phases.values():
            if other.name != name and is_open(other, start):
                other.closes_utc = start
        phase = phases.get(name) or Phase(name=name, split=DEFAULT_SPLIT[name])
        phase.split = opening.split or phase.split
        phase.opens_utc, phase.closes_utc = start, opening.end
        for field in ("per_day", "total"):
            if getattr(opening, field) is not None:
                setattr(phase, field, getattr(opening, field))
        if name == TEST:
            if phase.private_seed is None:
                phase.private_seed = secrets.randbits(62) if opening.seed is None else opening.seed
                phase.private_fraction = opening.private_fraction or DEFAULT_PRIVATE_FRACTION
            phase.max_selected = opening.max_selected or phase.max_selected or DEFAULT_MAX_SELECTED
        session.add(phase)
    return phase


def close_phase(db: Database, name: str, at: dt.datetime | None = None) -> Phase:
    """Stop a phase taking submissions at `at` (default now).

    Raises:
        PhaseError: no such phase, or `at` before it opens.
    """
    with db.write() as session:
        phase = session.scalar(select(Phase).where(Phase.name == name))
        if phase is None:
            raise PhaseError(f"the board has no {name} phase")
        at = at or utcnow()
        if at < phase.opens_utc:
            raise PhaseError(f"the {name} phase opens at {_when(phase.opens_utc)}, after --at")
        phase.closes_utc = at
    return phase


@dataclasses.dataclass(frozen=True)
class Revealed:
    """What `reveal` did: the selected submission ids per team, and which were defaults."""

    selected: dict[str, list[int]]
    defaulted: list[str]


def _best_public(rows: Sequence[Submission]) -> Submission:
    """The submission with the best public rsum (the board's order: a bound at its
    pessimistic end; ties: the earliest)."""

    def key(row: Submission) -> tuple[float, int]:
        return (-pessimistic_key(part_metrics(row, PUBLIC_LABEL).rsum, "max"), row.id)

    return min(rows, key=key)


def reveal(db: Database) -> Revealed:
    """Close the test phase (if open) and fix the private ranking: each team's selection, or
    its best public submission when it selected none. Done once.

    Raises:
        PhaseError: no test phase, already revealed, or test-phase submissions still waiting
            to be scored (close the phase, wait, then reveal).
    """
    now = utcnow()
    with db.write() as session:
        test = session.scalar(select(Phase).where(Phase.name == TEST))
        if test is None:
            raise PhaseError("the board has no test phase to reveal")
        if test.revealed_utc is not None:
            raise PhaseError(f"the test phase was revealed at {_when(test.revealed_utc)}")
        waiting = session.scalar(
            select(func.count())
            .select_from(Submission)
            .where((Submission.phase == TEST) & Submission.status.in_([RECEIVING, QUEUED, SCORING]))
        )
        if waiting:
            raise PhaseError(
                f"{waiting} test-phase submissions are still being received or scored; "
                "`mrw-leaderboard phase close test`, wait for them, then reveal"
            )
        rows = session.execute(
            select(Submission, Team.name)
            .join(Team)
            .where((Submission.phase == TEST) & (Submission.status == SCORED))
            .order_by(Submission.id)
        ).all()
        by_team: dict[str, list[Submission]] = {}
        for row, team in rows:
            by_team.setdefault(team, []).append(row)
        defaulted = []
        for team, team_rows in by_team.items():
            if not any(r.selected for r in team_rows):
                _best_public(team_rows).selected = True
                defaulted.append(team)
        if test.closes_utc is None or test.closes_utc > now:
            test.closes_utc = now
        test.revealed_utc = now
        selected = {team: [r.id for r in rs if r.selected] for team, rs in by_team.items()}
    return Revealed(selected, defaulted)


def selection(db: Database, team_id: int) -> tuple[list[int], Phase | None]:
    """The team's selected test-phase submission ids and the test phase (None if none)."""
    with db.read() as session:
        test = session.scalar(select(Phase).where(Phase.name == TEST))
        ids = session.scalars(
            select(Submission.id)
            .where(
                (Submission.team_id == team_id) & (Submission.phase == TEST) & Submission.selected
            )
            .order_by(Submission.id)
        )
        return list(ids), test


def select_submissions(db: Database, team_id: int, ids: Sequence[int]) -> list[int]:
    """Make `ids` the team's whole selection for the private ranking (replacing the last).

    Args:
        db: the server's database.
        team_id: the team choosing.
        ids: its scored test-phase submissions, at most the test phase's `max_selected`
            (an empty list clears the selection: the best public one is used at the reveal).

    Returns:
        The selected ids, ascending.

    Raises:
        PhaseError: no test phase, already revealed, too many ids, or an id that is not a
            scored test-phase submission of the team (the same line whether it exists or not).
    """
    wanted = sorted(set(ids))
    with db.write() as session:
        test = session.scalar(select(Phase).where(Phase.name == TEST))
        if test is None:
            raise PhaseError("this board has no test phase: nothing to select")
        if test.revealed_utc is not None:
            raise PhaseError("the test phase was revealed: the selection is final")
        if len(wanted) > (test.max_selected or DEFAULT_MAX_SELECTED):
            raise PhaseError(f"at most {test.max_selected} submissions may be selected")
        own = (Submission.team_id == team_id) & (Submission.phase == TEST)
        found = set(
            session.scalars(
                select(Submission.id).where(
                    own & (Submission.status == SCORED) & Submission.id.in_(wanted)
                )
            )
        )
        missing = [i for i in wanted if i not in found]
        if missing:
            raise PhaseError(f"#{missing[0]} is not a scored test-phase submission of your team")
        session.execute(update(Submission).where(own).values(selected=Submission.id.in_(wanted)))
    return wanted


def part_metrics(row: Submission, part: str) -> Metrics | None:
    """A test-phase submission's metrics on the `public` or `private` part (None if absent)."""
    text = row.public_metrics_json if part == PUBLIC_LABEL else row.private_metrics_json
    return None if text is None else Metrics.from_json(json.loads(text))


def board_variants(
    row: Submission, team: str, truth: Truth, revealed: bool
) -> list[tuple[board.Submission, str | None]]:
    """The boards one scored submission appears on now, as (record, part) pairs.

    `dev` and `closed` submissions appear on their split's board (`validation`, `test`; part
    None: all queries). A test-phase submission appears on `test (public)` with its
    public-part metrics (part `public`); after the reveal also on `test` (all queries, the
    permanent board) and, if selected, on `test (private)` (part `private`). A record's
    `split` is the board's label.
    """
    record = as_record(row, team)
    if phase_of(row, truth) != TEST:
        return [(record, None)]
    out: list[tuple[board.Submission, str | None]] = [
        (
            dataclasses.replace(
                record,
                split=f"{record.split} ({PUBLIC_LABEL})",
                metrics=part_metrics(row, PUBLIC_LABEL),
            ),
            PUBLIC_LABEL,
        )
    ]
    if revealed:
        out.append((record, None))
        if row.selected:
            out.append(
                (
                    dataclasses.replace(
                        record,
                        split=f"{record.split} ({PRIVATE_LABEL})",
                        metrics=part_metrics(row, PRIVATE_LABEL),
                    ),
                    PRIVATE_LABEL,
                )
            )
    return out


def scored_rows(
    db: Database, dataset: str | None = None, split: str | None = None
) -> tuple[list[tuple[Submission, str]], bool]:
    """Every scored submission with its team's name (oldest first; optionally of one dataset
    and split), and whether the test phase has been revealed."""
    with db.read() as session:
        test = session.scalar(select(Phase).where(Phase.name == TEST))
        query = select(Submission, Team.name).join(Team).where(Submission.status == SCORED)
        if dataset:
            query = query.where(Submission.dataset == dataset)
        if split:
            query = query.where(Submission.split == split)
        rows = [(row, team) for row, team in session.execute(query.order_by(Submission.id))]
    return rows, test is not None and test.revealed_utc is not None


def board_records(
    db: Database, truth: Truth, dataset: str | None = None, split: str | None = None
) -> list[board.Submission]:
    """The board's rows, one table per (dataset, label): what anyone may see now
    (`board_variants` of every scored submission). `split` filters by the split's name (all
    of its boards)."""
    rows, revealed = scored_rows(db, dataset, split)
    return [
        record for row, team in rows for record, _ in board_variants(row, team, truth, revealed)
    ]


def test_masks(db: Database, truth: Truth) -> dict[str, np.ndarray] | None:
    """The private masks (`private_mask`, per direction) of the test phase's split, or None
    when the board has no test phase with a private split (the masks never leave the server).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with db.read() as session:
        test = session.scalar(select(Phase).where(Phase.name == TEST))
    split = None if test is None else truth.splits.get(test.split)
    if test is None or split is None or split.public or test.private_seed is None:
        return None
    return _masks(split, test)


def _masks(split: Split, test: Phase) -> dict[str, np.ndarray]:
    return {
        direction: private_mask(qrels, test.private_seed, test.private_fraction, direction)
        for direction, qrels in split.qrels.items()
    }


def is_revealed(db: Database) -> bool:
    """Whether the board's test phase has been revealed."""
    with db.read() as session:
        return bool(
            session.scalar(
                select(func.count())
                .select_from(Phase)
                .where((Phase.name == TEST) & Phase.revealed_utc.is_not(None))
            )
        )


def private_parts(db: Database, submission_id: int, split: Split) -> dict[str, np.ndarray] | None:
    """The private masks (`private_mask`, per direction) a submission is scored with: for a
    test-phase submission on a hidden split, else None.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with db.read() as session:
        phase = session.scalar(select(Submission.phase).where(Submission.id == submission_id))
        test = session.scalar(select(Phase).where(Phase.name == TEST))
    if phase != TEST or test is None or split.public:
        return None
    return _masks(split, test)
