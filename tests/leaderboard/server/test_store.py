"""The server's storage layer on SQLite (in process): migrations, tokens, limits, the claim
rule, recovery, and the `team` command; then the same on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hmac
import sqlite3
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sqlalchemy", reason="the server extra is not installed")

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, update

from leaderboard.cli import main
from leaderboard.errors import BoardError
from leaderboard.metrics import combine, ranks_to_metrics
from leaderboard.server import store, teams, tokens
from leaderboard.server.db import Database, database_url
from leaderboard.server.models import QUEUED, RECEIVING, SCORING, Base, Submission
from mrw.testing.leaderboard_server import head_revision

# Metrics of one query found at rank 1 in both directions of a 1-document gallery.
_METRICS = combine(ranks_to_metrics(np.array([1]), 1), ranks_to_metrics(np.array([1]), 1))


def _upload(i: int, split: str = "test") -> store.Upload:
    return store.Upload(
        name=f"m{i}", description="", dataset="toy", split=split, truth_sha256="truth",
        t2v_sha256=f"t2v{i}", v2t_sha256=f"v2t{i}",
    )  # fmt: skip


def test_migrations_build_exactly_the_models_schema(db: Database, tmp_path: Path) -> None:
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    with sqlite3.connect(tmp_path / "board.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0004"
    assert head_revision() == "0004"
    db.migrate()  # idempotent on an up-to-date database


def test_a_database_of_the_first_revision_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from leaderboard.server.db import MIGRATIONS

    old = Database(database_url(tmp_path / "board.db", None))
    with old.engine.begin() as connection:  # the schema as the first release created it
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with sqlite3.connect(tmp_path / "board.db") as conn:
        conn.execute("INSERT INTO teams VALUES (1, 'alpha', 'k', 'd', '2026-11-30 00:00:00', NULL)")
        conn.execute(
            "INSERT INTO submissions (id, team_id, name, description, status, submitted_utc, "
            "attempts) VALUES (7, 1, 'm', '', 'queued', '2026-11-30 00:00:00', 0)"
        )
    old.close()
    db = Database(database_url(tmp_path / "board.db", None))
    db.migrate()
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    assert store.claim_next(db) == (7, None)  # the queued row survived the upgrade
    db.close()


def test_the_same_rankings_are_scored_once(db: Database) -> None:
    from leaderboard.server.models import FAILED, SCORED
    from leaderboard.server.scoring import Outcome

    team = teams.add_team(db, "alpha")
    team_id = teams.authenticate(db, team)[0]
    ids = []
    for i in range(3):
        ids.append(store.reserve(db, team_id, store.Limits()))
        store.enqueue(db, ids[-1], _upload(i))
    for submission_id, rankings in zip(ids, ("r1", "r1", "r2"), strict=True):
        outcome = Outcome(metrics=_METRICS, rankings_sha256=rankings)
        store.record(db, submission_id, outcome, "test")
    rows = [store.get(db, i)[0] for i in ids]
    assert [r.status for r in rows] == [SCORED, FAILED, SCORED]
    assert rows[1].reason.startswith(f"the same rankings as submission #{ids[0]} ")
    assert [r.id for r in store.scored(db)] == [ids[0], ids[2]]


def test_an_add_board_is_not_taken_for_a_server_database(tmp_path: Path) -> None:
    from leaderboard.board import add_submission

    add_submission(
        tmp_path / "add.db", name="m", team="t", dataset="d", split="s", metrics=_METRICS,
        t2v_sha256="a", v2t_sha256="b", truth_sha256="c",
    )  # fmt: skip
    with pytest.raises(BoardError, match="a board written by 'mrw-leaderboard add'"):
        Database(database_url(tmp_path / "add.db", None)).migrate()


def test_only_a_digest_of_the_token_is_stored_and_compared_in_constant_time(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = teams.add_team(db, "alpha")
    _, key_id, secret = token.split("_")
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("board.db*"))
    assert secret.encode() not in raw and tokens.digest(secret).encode() in raw
    compared = []
    constant_time = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return constant_time(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    assert teams.authenticate(db, token) == (1, "alpha")
    assert teams.authenticate(db, f"mrwlb_{key_id}_{secret[:-1]}x") is None
    assert teams.authenticate(db, f"mrwlb_000000000000_{secret}") is None  # unknown key id
    assert len(compared) == 3  # every attempt went through the constant-time comparison
    with pytest.raises(BoardError, match="already exists"):
        teams.add_team(db, "alpha")
    teams.revoke_team(db, "alpha")
    assert teams.authenticate(db, token) is None
    with pytest.raises(BoardError, match="already revoked"):
        teams.revoke_team(db, "alpha")


def test_daily_and_total_limits(db: Database) -> None:
    teams.add_team(db, "alpha")
    limits = store.Limits(per_day=2, total=3)
    for _ in range(2):
        store.reserve(db, 1, limits)
    with pytest.raises(store.LimitReached, match="daily limit of 2") as refused:
        store.reserve(db, 1, limits)
    assert 0 < refused.value.retry_after <= 86400
    yesterday = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=1)
    with db.write() as session:  # move both to yesterday: today is free again
        session.execute(update(Submission).values(submitted_utc=yesterday))
    store.reserve(db, 1, limits)
    with pytest.raises(store.LimitReached, match="total limit of 3") as refused:
        store.reserve(db, 1, limits)
    assert refused.value.retry_after is None
    teams.add_team(db, "beta")  # limits are per team
    store.reserve(db, 2, limits)


def test_claims_one_submission_per_team_at_a_time_in_order(db: Database) -> None:
    for name in ("alpha", "beta"):
        teams.add_team(db, name)
    limits = store.Limits()
    ids = {}
    for i, team in enumerate((1, 1, 2, 1)):
        ids[i] = store.reserve(db, team, limits)
        store.enqueue(db, ids[i], _upload(i))
    assert store.claim_next(db) == (ids[0], "test")
    assert store.claim_next(db) == (ids[2], "test")  # alpha is busy: beta's goes next
    assert store.claim_next(db) is None
    store.record(db, ids[0], store.Outcome(metrics=_METRICS), "v")
    assert store.claim_next(db) == (ids[1], "test")
    with pytest.raises(store.DuplicateSubmission, match=f"as #{ids[0]} on "):  # its own
        store.enqueue(db, store.reserve(db, 1, limits), _upload(0))
    with pytest.raises(store.DuplicateSubmission, match="^identical files .* by another team$"):
        store.enqueue(db, store.reserve(db, 2, limits), _upload(0))


def test_restart_requeues_scoring_and_drops_broken_uploads(db: Database) -> None:
    teams.add_team(db, "alpha")
    limits = store.Limits()
    scoring, broken = store.reserve(db, 1, limits), store.reserve(db, 1, limits)
    store.enqueue(db, scoring, _upload(0))
    assert store.claim_next(db) == (scoring, "test")
    assert store.recover(db) == [broken]
    with db.read() as session:
        rows = dict(session.execute(select(Submission.id, Submission.status)).all())
    assert rows == {scoring: QUEUED}
    assert store.claim_next(db) == (scoring, "test")
    with db.read() as session:
        assert session.get(Submission, scoring).attempts == 2
    assert SCORING != RECEIVING


def test_team_command_prints_the_token_once(tmp_path: Path, capsys) -> None:
    board = tmp_path / "board.db"
    assert main(["team", "add", "--board", str(board), "USC <b>"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert tokens.split_token(token) is not None and "shown only now" in err
    assert main(["team", "list", "--board", str(board)]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("USC <b>\t") and "active" in listed and token not in listed
    assert main(["team", "add", "--board", str(board), "USC <b>"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["team", "revoke", "--board", str(board), "nobody"]) == 2
    assert main(["team", "revoke", "--board", str(board), "USC <b>"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["team", "add", "--db", "not a url", "x"]) == 2
    assert "--db is not a database URL" in capsys.readouterr().err


def test_a_rotated_token_replaces_the_old_one_and_reactivates_the_team(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    old = teams.add_team(db, "alpha")
    teams.revoke_team(db, "alpha")
    assert main(["team", "rotate", "--board", str(tmp_path / "board.db"), "alpha"]) == 0
    new = capsys.readouterr().out.strip()
    assert new.startswith("mrwlb_") and new != old
    assert teams.authenticate(db, old) is None and teams.authenticate(db, new)[1] == "alpha"
    assert teams.list_teams(db)[0][2] is True  # active again
    with pytest.raises(BoardError, match="no team 'beta'"):
        teams.rotate_token(db, "beta")


def test_a_train_split_is_not_offered(tmp_path: Path) -> None:
    from leaderboard.server.truth import load
    from mrw.testing.leaderboard_server import make_truth

    qrels = make_truth(tmp_path / "toyset" / "qrels", splits=("train", "validation", "test"))
    assert sorted(load(qrels).splits) == ["test", "validation"]
    assert list(load(qrels / "train").splits) == ["train"]  # named on its own: the user's choice


def test_serve_on_a_taken_port_is_one_line_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import socket

    from mrw.testing.leaderboard_server import make_truth

    truth = make_truth(tmp_path / "toyset" / "qrels")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--board", str(tmp_path / "b.db"), "--truth", str(truth),
                     "--port", str(port)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert not (tmp_path / "b.db").exists()  # refused before the database was made


def test_of_two_rotations_at_once_only_one_prints_a_token(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    teams.add_team(db, "alpha")
    other = Database(database_url(tmp_path / "board.db", None))  # another process's rotation
    made = tokens.new_token
    winner: list[str] = []
    calls = []

    def new_token_while_another_rotates() -> tokens.NewToken:
        calls.append(1)
        if len(calls) == 1:  # the other rotation lands between this one's read and write
            winner.append(teams.rotate_token(other, "alpha"))
        return made()

    monkeypatch.setattr(teams.tokens, "new_token", new_token_while_another_rotates)
    with pytest.raises(BoardError, match="token was changed meanwhile"):
        teams.rotate_token(db, "alpha")
    assert teams.authenticate(db, winner[0])[1] == "alpha"  # the one printed token works
    other.close()
