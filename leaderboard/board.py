"""The submission board: a SQLite file of scored submissions, one row per (truth, run pair).

Files are fingerprinted with SHA-256, so re-submitting identical files against the same
ground truth is recognised and refused instead of adding a duplicate row. A submission may
carry its protocol card (`mrw.core.protocol`, the `protocol_card` column, added to older
boards on their next `add`); rows of different cards are never ranked in one table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from leaderboard.errors import BoardError
from leaderboard.metrics import Metrics, MetricsFormatError
from mrw.core.protocol import (
    ProtocolCard,
    ProtocolCardError,
    card_document,
    card_from_document,
)
from mrw.core.provenance import file_sha256
from mrw.core.untrusted import UnsafeInputError, clean_text

# Longest accepted text per field, in characters (after control characters are removed).
TEXT_LIMITS = {"name": 120, "team": 120, "description": 2000, "dataset": 120, "split": 60}

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    team TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    dataset TEXT NOT NULL,
    split TEXT NOT NULL,
    submitted_utc TEXT NOT NULL,
    t2v_sha256 TEXT NOT NULL,
    v2t_sha256 TEXT NOT NULL,
    truth_sha256 TEXT NOT NULL,
    metrics TEXT NOT NULL,
    scorer_version TEXT NOT NULL,
    protocol_card TEXT,
    UNIQUE (truth_sha256, t2v_sha256, v2t_sha256)
);
"""
# Columns a board written before them lacks (rows read with None); `add` adds them.
OPTIONAL_COLUMNS = {"protocol_card": "TEXT"}


@dataclass(frozen=True)
class Submission:
    """One row of the board; `metrics` are the scored metrics (stored as the scorer's `--json`
    document)."""

    id: int
    name: str
    team: str
    description: str
    dataset: str
    split: str
    submitted_utc: str
    t2v_sha256: str
    v2t_sha256: str
    truth_sha256: str
    metrics: Metrics
    scorer_version: str
    protocol_card: ProtocolCard | None = None  # how it was measured; None: not stated


# The board's columns: one per `Submission` field (`metrics` holds the scorer's JSON document,
# `protocol_card` the card's `card_document` or NULL); every board has the required ones.
COLUMNS = tuple(field.name for field in dataclasses.fields(Submission))
REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c not in OPTIONAL_COLUMNS)
# The table Alembic keeps in every database of `mrw-leaderboard serve`/`team` (never in a board).
SERVER_MARKER = "alembic_version"


def truth_fingerprint(truth_dir: str | os.PathLike[str]) -> str:
    """SHA-256 over both qrels files: submissions are only comparable on identical truth."""
    root = Path(truth_dir)
    return truth_digest(file_sha256(root / "t2v.qrels"), file_sha256(root / "v2t.qrels"))


def truth_digest(t2v_sha256: str, v2t_sha256: str) -> str:
    """The truth fingerprint from the hex SHA-256 of each qrels file's bytes: SHA-256 of the
    two hex digests concatenated, t2v first (what `truth_fingerprint` computes from files)."""
    return hashlib.sha256((t2v_sha256 + v2t_sha256).encode()).hexdigest()


def _scorer_version() -> str:
    try:
        return metadata.version("mrw-toolkit")
    except metadata.PackageNotFoundError:
        return "unknown"


@contextmanager
def open_board(path: str | os.PathLike[str], create: bool = True) -> Iterator[sqlite3.Connection]:
    """A connection to the board (created on first use when `create`), closed on exit.

    Every command that reads or writes a board opens it here, so each refuses the same files:
    see `check_board`.

    Raises:
        BoardError: no such file (when not `create`), or a file that is not a board.
    """
    target = Path(path)
    if not create and not target.is_file():
        raise BoardError(f"{target}: no such board")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(sqlite3.connect(target, timeout=30)) as conn:
            check_board(conn, target)
            conn.execute(SCHEMA)
            yield conn
    except sqlite3.DatabaseError as exc:
        raise BoardError(f"{target}: not a usable board ({exc})") from None


def check_board(conn: sqlite3.Connection, target: Path) -> None:
    """Refuse a SQLite file that is not a board of `mrw-leaderboard add` (an empty one is).

    Raises:
        BoardError: the database of a leaderboard server (it has Alembic's table; the server
            shows its board itself), or a `submissions` table without the board's
            `REQUIRED_COLUMNS`.
        sqlite3.DatabaseError: not a SQLite file.
    """
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    if SERVER_MARKER in tables:
        raise BoardError(
            f"{target}: a leaderboard server's database, not a board of 'mrw-leaderboard add'; "
            f"'mrw-leaderboard serve --board {target} ...' serves its live board (GET /) "
            "and its JSON (GET /api/board)"
        )
    if "submissions" in tables:
        found = {row[1] for row in conn.execute("PRAGMA table_info(submissions)")}
        missing = [column for column in REQUIRED_COLUMNS if column not in found]
        if missing:
            raise BoardError(
                f"{target}: not a usable board (its submissions table lacks {', '.join(missing)})"
            )


def clean_fields(label_prefix: str = "--", **fields: str) -> dict[str, str]:
    """The text fields of a submission as stored: see `add_submission`.

    Args:
        label_prefix: put before a field's name in messages: `--` names the command-line
            option (`--name`), `""` the form field (`name`, for the server's API).
        fields: the fields, by name (`name`, `team`, `description`, `dataset`, `split`).

    Raises:
        BoardError: a field longer than its `TEXT_LIMITS` entry, or an empty name or team.
    """
    try:
        text = {
            key: clean_text(value, f"{label_prefix}{key}", TEXT_LIMITS[key])
            for key, value in fields.items()
        }
    except UnsafeInputError as exc:
        raise BoardError(str(exc)) from None
    for required in ("name", "team"):
        if text.get(required, "-") == "":
            raise BoardError(f"{label_prefix}{required} must not be empty")
    return text


def add_submission(
    board: str | os.PathLike[str],
    *,
    name: str,
    team: str,
    dataset: str,
    split: str,
    metrics: Metrics,
    t2v_sha256: str,
    v2t_sha256: str,
    truth_sha256: str,
    description: str = "",
    protocol_card: ProtocolCard | None = None,
) -> Submission:
    """Record a scored submission; identical files against the same truth raise `BoardError`.

    Text fields are cleaned before they are stored: control characters (terminal escape
    sequences, newlines that would break a table row) become spaces, whitespace is collapsed,
    and each field is capped (`TEXT_LIMITS`); an over-long field is refused. `protocol_card`
    is stored as its `card_document`; a board without the column gets it first.
    """
    text = clean_fields(name=name, team=team, description=description, dataset=dataset, split=split)
    row = {
        **text,
        "submitted_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "t2v_sha256": t2v_sha256,
        "v2t_sha256": v2t_sha256,
        "truth_sha256": truth_sha256,
        "metrics": json.dumps(metrics.to_json(), sort_keys=True),
        "scorer_version": _scorer_version(),
        "protocol_card": json.dumps(card_document(protocol_card)) if protocol_card else None,
    }
    with open_board(board) as conn:
        _add_optional_columns(conn)
        earlier = conn.execute(
            "SELECT id, name, team, submitted_utc FROM submissions "
            "WHERE truth_sha256 = ? AND t2v_sha256 = ? AND v2t_sha256 = ?",
            (truth_sha256, t2v_sha256, v2t_sha256),
        ).fetchone()
        if earlier is not None:
            raise BoardError(
                f"identical files were already submitted as #{earlier[0]} "
                f"'{earlier[1]}' by {earlier[2]} on {earlier[3]}"
            )
        try:
            with conn:
                cursor = conn.execute(
                    f"INSERT INTO submissions ({', '.join(row)}) "
                    f"VALUES ({', '.join('?' * len(row))})",
                    tuple(row.values()),
                )
        except sqlite3.IntegrityError:  # a concurrent `add` of the same files won the race
            raise BoardError("identical files were already submitted") from None
    return Submission(
        id=int(cursor.lastrowid), **{**row, "metrics": metrics, "protocol_card": protocol_card}
    )


def _add_optional_columns(conn: sqlite3.Connection) -> None:
    """Add the `OPTIONAL_COLUMNS` a board written before them lacks (its rows get NULL); a
    concurrent `add` that added one first is no error."""

    def found() -> set[str]:
        return {row[1] for row in conn.execute("PRAGMA table_info(submissions)")}

    for column, kind in OPTIONAL_COLUMNS.items():
        if column in found():
            continue
        try:
            with conn:
                conn.execute(f"ALTER TABLE submissions ADD COLUMN {column} {kind}")
        except sqlite3.OperationalError:
            if column not in found():
                raise


def submit(
    board: str | os.PathLike[str],
    truth_dir: str | os.PathLike[str],
    t2v_run: str | os.PathLike[str],
    v2t_run: str | os.PathLike[str],
    *,
    name: str,
    team: str,
    dataset: str,
    split: str,
    description: str = "",
    protocol_card: ProtocolCard | None = None,
    **score_options: Any,
) -> Submission:
    """Score a run pair against `truth_dir` and record it: what `mrw-leaderboard add` does.

    Raises:
        BoardError: a bad text field, identical files already on the board, or a
            `protocol_card` whose `truth_sha256` is not `truth_dir`'s (the card then does not
            describe this scoring).
    """
    from leaderboard.score import score_submission

    clean_fields(name=name, team=team, description=description, dataset=dataset, split=split)
    truth = truth_fingerprint(truth_dir)
    check_card_truth(protocol_card, truth)
    return add_submission(
        board,
        name=name,
        team=team,
        description=description,
        dataset=dataset,
        split=split,
        metrics=score_submission(truth_dir, t2v_run, v2t_run, **score_options),
        t2v_sha256=file_sha256(t2v_run),
        v2t_sha256=file_sha256(v2t_run),
        truth_sha256=truth,
        protocol_card=protocol_card,
    )


def check_card_truth(card: ProtocolCard | None, truth_sha256: str) -> None:
    """Refuse a card stating another truth than the one the runs are scored against.

    Raises:
        BoardError: `card.truth_sha256` is set and differs from `truth_sha256`.
    """
    if card is not None and card.truth_sha256 not in (None, truth_sha256):
        raise BoardError(
            f"the protocol card {card.card_id} was measured on other truth (truth_sha256 "
            f"{card.truth_sha256[:12]}..., --truth is {truth_sha256[:12]}...): it does not "
            "describe this scoring; give the right card with --card FILE"
        )


def list_submissions(board: str | os.PathLike[str]) -> list[Submission]:
    """Every submission, oldest first."""
    with open_board(board, create=False) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM submissions ORDER BY id").fetchall()
    out = []
    for row in rows:
        try:
            metrics = Metrics.from_json(json.loads(row["metrics"]))
        except (ValueError, MetricsFormatError) as exc:
            raise BoardError(
                f"{board}: submission #{row['id']} has unreadable metrics ({exc})"
            ) from None
        out.append(Submission(**{**dict(row), "metrics": metrics, "protocol_card": _card(row)}))
    return out


def _card(row: sqlite3.Row) -> ProtocolCard | None:
    """A row's protocol card; None when the board has no such column or the row no card.

    Raises:
        BoardError: a stored card that cannot be read.
    """
    columns = row.keys()  # a sqlite3.Row: `in row` would test its values
    text = row["protocol_card"] if "protocol_card" in columns else None
    if text is None:
        return None
    try:
        return card_from_document(json.loads(text))
    except (ValueError, ProtocolCardError) as exc:
        raise BoardError(
            f"submission #{row['id']} has an unreadable protocol card ({exc})"
        ) from None
