"""Phases in process: the 0003 migration keeps a 0002 board's rows (SQLite, then PostgreSQL
when installed), the private split, the host's phase rules, per-phase limits, selection and
the reveal, and scoring on the public and private parts from one pass."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sqlalchemy", reason="the server extra is not installed")

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text, update

from leaderboard.cli import main
from leaderboard.metrics import combine, ranks_to_metrics
from leaderboard.qrels import write_qrels
from leaderboard.runfile import write_run
from leaderboard.score import load_truth
from leaderboard.server import phases, store, teams
from leaderboard.server.db import MIGRATIONS, Database, database_url
from leaderboard.server.models import Base, Submission
from leaderboard.server.pages import phases_html
from leaderboard.server.scoring import Outcome, score_stored
from leaderboard.server.truth import Split, Truth
from leaderboard.server.truth import load as load_split_truth
from mrw.testing.leaderboard_server import head_revision, make_truth

METRICS_ONE = {
    "t2v": ranks_to_metrics(np.array([1]), 1).to_json(),
    "v2t": ranks_to_metrics(np.array([1]), 1).to_json(),
    "rsum": 600.0,
}


def _truth(tmp_path: Path) -> Truth:
    return load_split_truth(make_truth(tmp_path / "toyset" / "qrels"))


def _at_0002_with_rows(db: Database) -> None:
    """The schema of revision 0002 and three rows written by a server of that revision."""
    with db.engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            text(
                "INSERT INTO teams (name, token_key_id, token_sha256, created_utc) "
                "VALUES ('alpha', 'k', 'd', '2026-11-30 00:00:00')"
            )
        )
        for i, split in ((1, "validation"), (2, "test"), (3, "test")):
            status = "queued" if i == 3 else "scored"
            metrics = None if i == 3 else json.dumps(METRICS_ONE)
            connection.execute(
                text(
                    "INSERT INTO submissions (team_id, name, description, dataset, split, "
                    "status, submitted_utc, truth_sha256, t2v_sha256, v2t_sha256, metrics_json, "
                    "attempts) VALUES (1, :name, '', 'toyset', :split, :status, "
                    "'2026-11-30 00:00:00', :truth, :a, :b, :metrics, 1)"
                ),  # ids 1, 2, 3 from the database's own sequence, as a server made them
                dict(name=f"m{i}", split=split, status=status, truth=f"t-{split}",
                     a=f"a{i}", b=f"b{i}", metrics=metrics),
            )  # fmt: skip


def _upgrade_and_read_back(db: Database, truth: Truth) -> None:
    db.migrate()
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == head_revision()
    with db.read() as session:
        rows = {r.id: r for r in session.query(Submission)}
    assert [r.phase for r in rows.values()] == [None, None, None]
    assert [r.selected for r in rows.values()] == [False, False, False]
    # Implicit phases: a public split's row is dev, a hidden split's the permanent board's.
    assert [phases.phase_of(rows[i], truth) for i in (1, 2, 3)] == ["dev", "closed", "closed"]
    records = phases.board_records(db, truth)
    assert [(r.id, r.split, r.metrics.to_json()) for r in records] == [
        (1, "validation", METRICS_ONE),
        (2, "test", METRICS_ONE),
    ]
    assert records == store.scored(db)  # the board of a pre-phases database is unchanged
    assert store.claim_next(db) == (3, "test")  # the queued row is still scored
    # The new tables at work on the upgraded database: a test phase, a selection, a reveal.
    phases.open_phase(db, phases.Opening("test", seed=1, max_selected=1))
    best = _scored_test_submission(db, 1, 10, public=0.9, private=0.1)
    other = _scored_test_submission(db, 1, 11, public=0.5, private=0.5)
    assert phases.select_submissions(db, 1, [other]) == [other]
    assert phases.select_submissions(db, 1, []) == []  # cleared: the best public at the reveal
    assert phases.reveal(db).selected == {"alpha": [best]}
    labels = [(r.id, r.split) for r in phases.board_records(db, truth) if r.id == best]
    assert labels == [(best, "test (public)"), (best, "test"), (best, "test (private)")]


def test_a_0002_board_is_upgraded_with_its_rows_on_sqlite(tmp_path: Path) -> None:
    db = Database(database_url(tmp_path / "board.db", None))
    try:
        _at_0002_with_rows(db)
        _upgrade_and_read_back(db, _truth(tmp_path))
    finally:
        db.close()


def test_a_0002_board_is_upgraded_with_its_rows_on_postgresql(tmp_path: Path) -> None:
    pytest.importorskip("psycopg", reason="psycopg (the postgres extra) is not installed")
    from tests.leaderboard.server.test_postgres import _postgres

    with _postgres() as url:
        db = Database(database_url(None, url))
        try:
            _at_0002_with_rows(db)
            _upgrade_and_read_back(db, _truth(tmp_path))
        finally:
            db.close()


def test_the_private_split_is_seeded_and_kept_apart(tmp_path: Path) -> None:
    qrels = _truth(tmp_path).splits["test"].qrels
    for direction in ("t2v", "v2t"):
        n = qrels[direction].scored_queries.size
        mask = phases.private_mask(qrels[direction], 7, 0.5, direction)
        assert mask.dtype == bool and mask.shape == (n,) and mask.sum() == round(n / 2)
        assert np.array_equal(mask, phases.private_mask(qrels[direction], 7, 0.5, direction))
        assert not np.array_equal(mask, phases.private_mask(qrels[direction], 8, 0.5, direction))
        assert phases.private_mask(qrels[direction], 7, 0.99, direction).sum() == n - 1
        assert phases.private_mask(qrels[direction], 7, 0.01, direction).sum() == 1


def test_closed_never_opens_without_a_revealed_test_phase(tmp_path: Path, capsys) -> None:
    board = str(tmp_path / "board.db")
    assert main(["phase", "open", "closed", "--board", board]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "the board has no test phase" in line
    assert main(["phase", "open", "dev", "--board", board]) == 0  # the board is still usable
    assert main(["phase", "open", "closed", "--board", board]) == 2
    assert main(["phase", "open", "test", "--board", board]) == 0
    assert main(["phase", "list", "--board", board]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in listed if "\t" in line][-2:] == ["dev", "test"]


def test_phases_open_in_order_and_the_private_split_is_made_once(db: Database) -> None:
    phases.open_phase(db, phases.Opening("test", seed=3))
    with pytest.raises(phases.PhaseError, match="not revealed yet"):
        phases.open_phase(db, phases.Opening("closed"))
    test = phases.open_phase(db, phases.Opening("test", end=phases.parse_time("2099-01-01Z")))
    assert (test.private_seed, test.private_fraction, test.max_selected) == (3, 0.5, 2)
    with pytest.raises(phases.PhaseError, match="cannot change"):
        phases.open_phase(db, phases.Opening("test", seed=4))
    with pytest.raises(phases.PhaseError, match="the test phase was opened already"):
        phases.open_phase(db, phases.Opening("dev"))
    with pytest.raises(phases.PhaseError, match="--end must be after --start"):
        phases.open_phase(db, phases.Opening("test", end=phases.parse_time("2000-01-01")))
    assert phases.current(phases.list_phases(db)).name == "test"
    phases.reveal(db)
    assert phases.current(phases.list_phases(db)) is None  # revealed: closed
    with pytest.raises(phases.PhaseError, match="results are final"):
        phases.open_phase(db, phases.Opening("test"))
    with pytest.raises(phases.PhaseError, match="was revealed at"):
        phases.reveal(db)
    assert phases.open_phase(db, phases.Opening("closed")).split == "test"
    assert phases.current(phases.list_phases(db)).name == "closed"


def test_opening_a_phase_closes_the_open_one_and_times_are_utc(db: Database) -> None:
    assert phases.parse_time("2026-12-24T13:00+01:00") == dt.datetime(2026, 12, 24, 12, 0)
    with pytest.raises(phases.PhaseError, match="not an ISO 8601 time"):
        phases.parse_time("tomorrow")
    with pytest.raises(phases.PhaseError, match="are options of the test phase"):
        phases.open_phase(db, phases.Opening("dev", seed=1))
    phases.open_phase(db, phases.Opening("dev"))
    later = phases.parse_time("2099-01-01T00:00Z")
    phases.open_phase(db, phases.Opening("test", start=later, seed=1))  # scheduled
    dev, test = phases.list_phases(db)
    assert dev.closes_utc == later and phases.current([dev, test]).name == "dev"
    assert phases.current([dev, test], later).name == "test"
    assert phases.close_phase(db, "dev").closes_utc is not None
    assert phases.current(phases.list_phases(db)) is None


def test_limits_count_per_phase(db: Database) -> None:
    teams.add_team(db, "alpha")
    limits = store.Limits(per_day=1, total=5)
    store.reserve(db, 1, limits, "dev")
    with pytest.raises(store.LimitReached, match="daily limit of 1"):
        store.reserve(db, 1, limits, "dev")
    store.reserve(db, 1, limits, "test")  # another phase: its own count
    assert store.usage(db, 1, "dev") == (1, 1) and store.usage(db, 1) == (2, 2)


def _scored_test_submission(db: Database, team_id: int, i: int, public: float, private: float):
    submission_id = store.reserve(db, team_id, store.Limits(per_day=50), "test")
    store.enqueue(db, submission_id, store.Upload(
        name=f"m{i}", description="", dataset="toy", split="test", truth_sha256="truth",
        t2v_sha256=f"a{i}", v2t_sha256=f"b{i}",
    ))  # fmt: skip

    def metrics(found: float):  # a recall of `found` x 100 % in both directions
        ranks = np.array([1] * int(found * 10) + [5] * (10 - int(found * 10)))
        t2v = ranks_to_metrics(ranks, 10)
        return combine(t2v, t2v)

    store.record(db, submission_id, Outcome(
        metrics=metrics(0.5), public_metrics=metrics(public), private_metrics=metrics(private),
        rankings_sha256=f"r{i}",
    ), "v")  # fmt: skip
    return submission_id


def test_selection_is_capped_and_the_default_is_the_best_public(db: Database) -> None:
    for name in ("alpha", "beta", "gamma"):
        teams.add_team(db, name)
    phases.open_phase(db, phases.Opening("test", seed=0, max_selected=1))
    a1 = _scored_test_submission(db, 1, 1, public=0.9, private=0.1)
    a2 = _scored_test_submission(db, 1, 2, public=0.5, private=0.5)
    b1 = _scored_test_submission(db, 2, 3, public=0.3, private=0.9)
    b2 = _scored_test_submission(db, 2, 4, public=0.4, private=0.2)
    with pytest.raises(phases.PhaseError, match="at most 1 submissions"):
        phases.select_submissions(db, 1, [a1, a2])
    with pytest.raises(phases.PhaseError, match=f"#{b1} is not a scored test-phase submission"):
        phases.select_submissions(db, 1, [b1])  # another team's
    assert phases.select_submissions(db, 1, [a2]) == [a2]
    third = store.reserve(db, 3, store.Limits(), "test")  # gamma: still queued
    with pytest.raises(phases.PhaseError, match="1 test-phase submissions are still"):
        phases.reveal(db)
    store.discard(db, third)
    revealed = phases.reveal(db)
    assert revealed.selected == {"alpha": [a2], "beta": [b2]} and revealed.defaulted == ["beta"]
    with pytest.raises(phases.PhaseError, match="selection is final"):
        phases.select_submissions(db, 1, [a1])
    truth = Truth("toy", {"test": Split("test", {}, "truth", public=False)}, "test")
    records = phases.board_records(db, truth)
    boards = {}
    for record in records:
        boards.setdefault(record.split, []).append(record)
    assert sorted(boards) == ["test", "test (private)", "test (public)"]
    assert [r.id for r in boards["test (private)"]] == [a2, b2]
    assert {r.id for r in boards["test (public)"]} == {a1, a2, b1, b2}
    assert {r.id: r.metrics.rsum for r in boards["test (private)"]} == {a2: 500.0, b2: 440.0}
    with db.write() as session:  # a failed submission is never on a board
        session.execute(update(Submission).where(Submission.id == a1).values(status="failed"))
    assert a1 not in {r.id for r in phases.board_records(db, truth)}


def test_the_public_and_private_parts_are_scored_from_one_pass(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 20
    queries, docs = [f"q{i}" for i in range(n)], [f"d{i}" for i in range(n)]
    for direction in ("t2v", "v2t"):
        write_qrels(tmp_path / "truth" / f"{direction}.qrels", zip(queries, docs, strict=True))
    qrels = load_truth(tmp_path / "truth")
    split = Split("test", qrels, "sha", public=False)
    scores = {d: rng.standard_normal((n, n)) for d in ("t2v", "v2t")}
    upload = tmp_path / "upload"
    for direction, matrix in scores.items():
        write_run(upload / f"{direction}.run", queries, docs, matrix, "m", depth=8)
    masks = {d: phases.private_mask(qrels[d], 5, 0.5, d) for d in ("t2v", "v2t")}
    outcome = score_stored(upload, split, 1 << 20, masks)
    assert outcome.metrics == score_stored(upload, split, 1 << 20).metrics
    for direction, matrix in scores.items():  # brute force: 1 + documents scored higher
        true_rank = 1 + (matrix > matrix.diagonal()[:, None]).sum(axis=1)
        ranks = np.where(true_rank <= 8, true_rank, 0)
        for part, keep in (("private", masks[direction]), ("public", ~masks[direction])):
            expected = ranks_to_metrics(ranks[keep], n, depth=8)
            got = getattr(outcome, f"{part}_metrics").direction(direction)
            assert got == expected, (direction, part)
    with pytest.raises(ValueError, match="only kept on a hidden split"):
        score_stored(upload, Split("v", qrels, "sha", public=True), 1 << 20, masks)


def test_phase_command_walks_a_board_and_refuses_in_one_line(tmp_path: Path, capsys) -> None:
    board = str(tmp_path / "board.db")
    assert main(["phase", "open", "dev", "--board", board, "--per-day", "9"]) == 0
    assert main(["phase", "open", "test", "--board", board, "--seed", "4", "--select", "3"]) == 0
    out = capsys.readouterr().out
    assert "dev\tvalidation\t" in out and "per day 9" in out and "test\ttest\t" in out
    assert "select 3" in out
    test_line = next(line for line in out.splitlines() if line.startswith("test\t"))
    assert "per day (serve's)\ttotal (serve's)" in test_line and "--per-day" not in out
    assert main(["phase", "open", "dev", "--board", board]) == 2
    assert "phases open in the order dev -> test -> closed" in capsys.readouterr().err
    assert main(["phase", "open", "test", "--board", board, "--end", "soon"]) == 2
    assert "not an ISO 8601 time" in capsys.readouterr().err
    assert main(["phase", "reveal", "--board", board]) == 0
    assert "revealed: 0 teams" in capsys.readouterr().out
    assert main(["phase", "list", "--board", board]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["dev", "test"]
    assert "revealed -" not in listed[1]
    revealed_at = listed[1].split("\trevealed ")[1].split("\t")[0]
    page = phases_html(
        [
            {**phases.public_view(p), "open": False}
            for p in phases.list_phases(Database(database_url(Path(board), None)))
        ]
    )
    assert "<th>State</th>" in page and f"<td>revealed {revealed_at}</td>" in page
    with sqlite3.connect(board) as conn:  # the seed is stored (and never printed)
        assert conn.execute("SELECT private_seed FROM phases WHERE name='test'").fetchone() == (4,)


def test_serve_refuses_a_phase_of_the_wrong_split(tmp_path: Path, capsys) -> None:
    truth = make_truth(tmp_path / "toyset" / "qrels")
    board = str(tmp_path / "board.db")
    serve = ["serve", "--board", board, "--truth", str(truth), "--port", "0"]
    assert main(["phase", "open", "dev", "--board", board, "--split", "test"]) == 0
    assert main(serve) == 2
    assert "the dev phase scores split 'test', which is hidden" in capsys.readouterr().err
    assert main(["phase", "open", "test", "--board", board, "--split", "nope"]) == 0
    assert main([*serve, "--public-split", "test"]) == 2
    assert "the test phase scores split 'nope', which --truth does not have" in (
        capsys.readouterr().err
    )
    assert main(["phase", "open", "test", "--board", board, "--split", "test"]) == 0
    assert main([*serve, "--public-split", "test"]) == 2
    assert "the test phase scores split 'test', which is a --public-split" in (
        capsys.readouterr().err
    )
