"""A database error while a worker holds a claim: the submission is retried or failed with a
reason, and the team's next submission is scored (issue 28, item 12). The server runs in this
process (uvicorn on loopback) so that its database calls can fail on cue."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

from sqlalchemy.exc import OperationalError

from leaderboard.server import db as server_db
from leaderboard.server import store, teams
from leaderboard.server.db import Database, database_url
from leaderboard.server.models import FAILED, QUEUED, SCORING, Submission
from mrw.testing.inprocess_server import InProcessServer, inprocess_server
from mrw.testing.leaderboard_server import make_runs, make_truth

pytestmark = pytest.mark.slow


def _locked() -> OperationalError:
    """What SQLAlchemy raises when SQLite's write lock stays taken past `busy_timeout`."""
    return OperationalError("UPDATE submissions ...", {}, sqlite3.OperationalError("locked"))


@pytest.fixture
def truth(tmp_path: Path) -> Path:
    return make_truth(tmp_path / "toyset" / "qrels")


def _submit(server: InProcessServer, token: str, truth: Path, folder: Path, seed: int) -> int:
    response = server.post(token, *make_runs(folder, truth / "test", seed=seed))
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def test_a_write_lock_held_while_recording_is_waited_out(
    truth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another connection holds SQLite's write lock past `busy_timeout` (here 0.1 s) while the
    worker records a score: the claim is given back once the lock is gone, and scored again."""

    def short_busy_timeout(connection, record) -> None:
        real_pragmas(connection, record)
        connection.execute("PRAGMA busy_timeout=100")

    real_pragmas = server_db._sqlite_pragmas
    monkeypatch.setattr(server_db, "_sqlite_pragmas", short_busy_timeout)
    real_record, locks = store.record, []

    def record_under_a_lock(db, submission_id, outcome, version) -> None:
        if not locks:  # the first recording: another process takes the write lock for 4 s
            holder = sqlite3.connect(tmp_path / "board.db", check_same_thread=False)
            holder.execute("BEGIN EXCLUSIVE")
            locks.append(threading.Timer(4.0, holder.rollback))
            locks[0].start()
        real_record(db, submission_id, outcome, version)

    monkeypatch.setattr(store, "record", record_under_a_lock)
    with inprocess_server(tmp_path, truth) as server:
        token = server.add_team("alpha")
        first = _submit(server, token, truth, tmp_path, seed=1)
        status = server.wait(token, first)
        assert status["status"] == "scored", status
        assert status["attempts"] == 2  # claimed again once the lock was gone
        second = _submit(server, token, truth, tmp_path, seed=2)  # the team is not blocked
        assert server.wait(token, second)["status"] == "scored"
    locks[0].join()


def test_a_recording_that_always_fails_fails_with_a_reason_and_the_team_goes_on(
    truth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_record, broken = store.record, {1}  # the first submission of a new database

    def record(db, submission_id, outcome, version) -> None:
        if submission_id in broken:
            raise _locked()
        real_record(db, submission_id, outcome, version)

    monkeypatch.setattr(store, "record", record)
    with inprocess_server(tmp_path, truth) as server:
        token = server.add_team("alpha")
        first = _submit(server, token, truth, tmp_path, seed=1)
        assert first in broken
        second = _submit(server, token, truth, tmp_path, seed=2)
        status = server.wait(token, first)
        assert status["status"] == "failed", status
        assert status["attempts"] == store.MAX_ATTEMPTS
        assert status["reason"] == store.GAVE_UP.format(attempts=store.MAX_ATTEMPTS)
        after = server.wait(token, second)
        assert after["status"] == "scored" and after["attempts"] == 1, after


def test_a_claim_whose_answer_is_lost_is_given_back(
    truth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim commits, then the connection drops before the worker hears of it (a
    PostgreSQL connection lost at commit): the orphaned claim is found and re-queued."""
    real_claim, lost = store.claim_next, []

    def claim_next(db):
        claimed = real_claim(db)
        if claimed is not None and not lost:
            lost.append(claimed)
            raise _locked()
        return claimed

    monkeypatch.setattr(store, "claim_next", claim_next)
    with inprocess_server(tmp_path, truth) as server:
        token = server.add_team("alpha")
        first = _submit(server, token, truth, tmp_path, seed=1)
        status = server.wait(token, first)
        assert status["status"] == "scored" and status["attempts"] == 2, status
        assert lost == [(first, "test")]


def test_release_claims_keeps_held_ones_and_caps_the_attempts(tmp_path: Path) -> None:
    db = Database(database_url(tmp_path / "board.db", None))
    db.migrate()
    try:
        teams.add_team(db, "alpha")
        teams.add_team(db, "beta")
        upload = {"name": "m", "description": "", "dataset": "d", "split": "test"}
        ids = []
        for i, team in enumerate((1, 2)):
            ids.append(store.reserve(db, team, store.Limits()))
            sha = {"truth_sha256": "t", "t2v_sha256": f"a{i}", "v2t_sha256": f"b{i}"}
            store.enqueue(db, ids[-1], store.Upload(**upload, **sha))
        held, orphan = store.claim_next(db)[0], store.claim_next(db)[0]
        assert store.release_claims(db, held={held}) == store.Released([orphan], [])
        for _ in range(store.MAX_ATTEMPTS - 1):  # claimed twice more: now at the cap
            assert store.claim_next(db) == (orphan, "test")
            store.release_claims(db, held={held})
        with db.read() as session:
            row = session.get(Submission, orphan)
            assert (row.status, row.attempts) == (FAILED, store.MAX_ATTEMPTS)
            assert "interrupted 3 times" in row.reason
            assert session.get(Submission, held).status == SCORING  # a held claim is kept
        assert store.recover(db) == []  # after a restart, nothing is held: re-queued
        with db.read() as session:
            assert session.get(Submission, held).status == QUEUED
    finally:
        db.close()
