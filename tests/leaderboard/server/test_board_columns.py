"""The board's columns on a real server on loopback: host baselines tagged and never ranked,
one table per protocol card, Borda across tables with a missing cell, the test against the
leader equal to `compare`'s, artefacts and training data from the run record; and revision
0004 upgrading a database of revision 0002 with its rows (SQLite, then PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

from leaderboard.server.client import card_field
from leaderboard.server.db import Database, database_url
from mrw.bench.compare import compare_runs, paired_test
from mrw.core.protocol import ProtocolCard
from mrw.core.provenance import file_sha256
from mrw.testing.harness_runs import COMMIT, harness_run
from mrw.testing.leaderboard_server import live_server, make_runs, make_truth

pytestmark = pytest.mark.slow


BAD_CARD = {"dataset": "x", "relevance": "some"}


def _card(split_dir: Path, features: str) -> str:
    from leaderboard.board import truth_fingerprint

    card = ProtocolCard(
        dataset="toyset", split="test", truth_sha256=truth_fingerprint(split_dir),
        queries="every test sentence", gallery="every test video", features=features,
    )  # fmt: skip
    return card_field(card)


def test_baselines_cards_borda_and_the_leader_test(tmp_path: Path) -> None:
    truth = make_truth(tmp_path / "toyset" / "qrels")
    test = truth / "test"
    runs = tmp_path / "runs"
    weak, strong = harness_run(runs, test, 1, 0, 1.2), harness_run(runs, test, 3, 0, 0.5)
    hosts = tmp_path / "host-runs"
    baseline = harness_run(hosts, test, 9, 0, 0.05, training_data="zero-shot; web-scale")
    with live_server(tmp_path, truth) as server:
        alpha, beta, gamma = (server.add_team(n) for n in ("alpha", "beta", "gamma"))
        (tmp_path / "alpha.token").write_text(alpha)
        submitted = server.cli(
            "submit", "--server", server.url, "--token-file", str(tmp_path / "alpha.token"),
            "--code-url", "https://example.org/code?a=1&b=<x>",
            str(weak / "t2v.run.gz"), str(weak / "v2t.run.gz"),
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stderr
        response = server.post(beta, strong / "t2v.run.gz", strong / "v2t.run.gz", name="k3")
        assert server.wait(beta, response.json()["id"])["status"] == "scored"
        added = server.cli("baseline", "add", "--board", str(server.board), "--truth",
                           str(truth), "--dataset", "toyset", str(hosts))  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert "1 of 1 runs on the board as baselines" in added.stdout
        again = server.cli("baseline", "add", "--board", str(server.board), "--truth",
                           str(truth), "--dataset", "toyset", str(hosts))  # fmt: skip
        assert again.returncode == 0 and "already on the board" in again.stderr

        # A second protocol card: alpha and gamma submit under it, beta does not.
        card = _card(test, "other-features")
        for token, seed in ((alpha, 1), (gamma, 2)):
            pair = make_runs(tmp_path, test, seed, noise=0.4 + 0.3 * seed)
            response = server.post(token, *pair, name=f"card-b-{seed}", protocol_card=card)
            assert response.status_code == 202, response.text
            assert server.wait(token, response.json()["id"])["status"] == "scored"

        # Refusals are one line with 400, and leave no row.
        pair = make_runs(tmp_path, test, 5)
        for field, value, message in (
            ("protocol_card", "{not json", "protocol_card is not JSON"),
            (
                "protocol_card",
                json.dumps({"card": {"dataset": "x", "relevance": "some"}, "card_hash": "0"}),
                "relevance",
            ),
            ("code_url", "javascript:alert(1)", "code_url must be an http(s):// URL"),
            ("checkpoint_sha256", "abc", "checkpoint_sha256 must be 64 hex digits"),
        ):
            refused = server.post(gamma, *pair, **{field: value})
            assert refused.status_code == 400 and message in refused.json()["error"], refused.text

        board = server.client().get("/api/board").json()
        page = server.client().get("/").text
        alpha_id = next(
            s["id"]
            for b in board["boards"]
            for s in b["submissions"]
            if s["team"] == "alpha" and not b["card_declared"]
        )
        alpha_page = server.client().get(f"/submissions/{alpha_id}").text

    derived, declared = sorted(board["boards"], key=lambda b: b["card_declared"])
    assert derived["card"]["protocol"] == "undeclared"
    assert declared["card"]["features"] == "other-features"
    assert derived["card_hash"] != declared["card_hash"]
    rows = {s["team"]: s for s in derived["submissions"]}
    host = rows["MRW harness (host baselines)"]
    assert host["baseline"] and host["rank"] is None and not host["leader"]
    assert derived["submissions"][0]["baseline"]  # shown in place, by rsum
    assert host["metrics"]["rsum"] > rows["beta"]["metrics"]["rsum"]  # best, still unranked
    assert rows["beta"]["rank"] == 1 and rows["beta"]["leader"]
    assert derived["leader"] == rows["beta"]["id"] and rows["alpha"]["rank"] == 2
    assert host["training_data"] == "zero-shot; web-scale"
    assert host["checkpoint_sha256"] == file_sha256(baseline / "checkpoint.pt")

    # Artefacts and training data of `submit` come from the run record.
    assert rows["alpha"]["code_commit"] == COMMIT
    assert rows["alpha"]["checkpoint_sha256"] == file_sha256(weak / "checkpoint.pt")
    assert rows["alpha"]["training_data"] == "trained on toy train; frame features: synthetic"
    assert rows["beta"]["training_data"] is None and rows["beta"]["code_url"] is None

    # The leader test is compare's paired test over pairs on the same two runs.
    comparison = compare_runs([runs])
    groups = {g.label: g for g in comparison.groups}
    expected = paired_test(groups["pvse (k=1)"], groups["pvse (k=3)"])
    test_alpha = rows["alpha"]["leader_test"]
    assert test_alpha["p"] == pytest.approx(expected.p_queries[0], rel=1e-9)
    assert test_alpha["rsum_diff"] == pytest.approx(expected.rsum_diff[0])
    assert test_alpha["ci_low"] < test_alpha["rsum_diff"] < test_alpha["ci_high"]
    assert test_alpha["pairs"] == 12 and rows["beta"]["leader_test"] is None

    # Across the two tables: alpha in both, beta and gamma in one each (n = 3 teams).
    (cross,) = board["cross_dataset"]
    teams = {t["team"]: t for t in cross["teams"]}
    assert set(teams) == {"alpha", "beta", "gamma"}  # no baseline
    assert [t["card_hash"] for t in cross["tables"]] == [b["card_hash"] for b in board["boards"]]
    column = {b["card_hash"]: i for i, b in enumerate(board["boards"])}
    d, c = column[derived["card_hash"]], column[declared["card_hash"]]
    assert teams["beta"]["cells"][c] == {"rsum": None, "rank": None}  # missing, not zero
    assert teams["beta"]["cells"][d]["rank"] == 1 and teams["alpha"]["cells"][d]["rank"] == 2
    card_b = {t: teams[t]["cells"][c]["rank"] for t in ("alpha", "gamma")}
    assert sorted(card_b.values()) == [1, 2]
    for name, team in teams.items():
        ranks = [cell["rank"] for cell in team["cells"] if cell["rank"] is not None]
        assert team["borda_points"] == sum(3 - r for r in ranks), name
        assert team["mean_rank"] == (sum(ranks) / 2 if len(ranks) == 2 else None)
    points = sorted((t["borda_points"] for t in teams.values()), reverse=True)
    assert [t["borda_points"] for t in cross["teams"]] == points

    assert '<span class="badge">baseline</span>' in page and "Across datasets" in page
    assert (
        '<a href="https://example.org/code?a=1&amp;b=&lt;x&gt;" rel="nofollow noopener '
        'noreferrer">code</a>' in page
    )
    assert "undeclared (unknown overlap with the test media)" in page
    assert COMMIT in alpha_page and "trained on toy train" in alpha_page
    assert "https://example.org/code?a=1&amp;b=&lt;x&gt;" in alpha_page
    assert "derived from the truth" in alpha_page and "team submission" in alpha_page


def _upgrade(connection: object, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from leaderboard.server.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


ROW = (
    "INSERT INTO submissions (id, team_id, name, description, dataset, split, status, "
    "submitted_utc, truth_sha256, rankings_sha256, metrics_json, attempts, t2v_sha256, "
    "v2t_sha256) VALUES (7, 1, 'old', '', 'toyset', 'test', 'scored', '2026-11-30 00:00:00', "
    "'{truth}', 'r', '{metrics}', 1, 'a', 'b')"
)


def _check_upgraded(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from leaderboard.server import standings
    from leaderboard.server.models import Base
    from leaderboard.server.truth import Truth

    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    no_phases = Truth("toyset", {}, "test")  # the row's split is not served: its phase is closed
    (only,) = standings.load(db, no_phases)
    assert only.row.name == "old" and not only.row.baseline and only.ranks is None
    assert only.card.protocol == "undeclared" and only.card.truth_sha256 == "f" * 64
    tables = standings.build([only]).tables
    assert tables[0][0].rank(0) == 1 and tables[0][0].rows[0].leader_test is None


def _metrics(folder: Path) -> str:
    """A scored row's metrics document, as the scorer writes it."""
    from leaderboard.score import score_submission

    truth = make_truth(folder / "qrels")
    runs = make_runs(folder, truth / "test", 0)
    return json.dumps(score_submission(truth / "test", *runs).to_json())


def test_revision_0004_keeps_the_rows_of_a_0002_database(tmp_path: Path) -> None:
    old = Database(database_url(tmp_path / "board.db", None))
    with old.engine.begin() as connection:
        _upgrade(connection, "0002")
    with sqlite3.connect(tmp_path / "board.db") as conn:
        conn.execute("INSERT INTO teams VALUES (1, 'alpha', 'k', 'd', '2026-11-30 00:00:00', NULL)")
        conn.execute(ROW.format(truth="f" * 64, metrics=_metrics(tmp_path)))
    old.close()
    db = Database(database_url(tmp_path / "board.db", None))
    db.migrate()
    _check_upgraded(db)
    db.close()


def test_revision_0004_keeps_the_rows_of_a_0002_database_on_postgresql(tmp_path: Path) -> None:
    pytest.importorskip("psycopg", reason="psycopg (the postgres extra) is not installed")
    from tests.leaderboard.server.test_postgres import _postgres

    with _postgres() as url:
        old = Database(database_url(None, url))
        with old.engine.begin() as connection:
            _upgrade(connection, "0002")
            connection.exec_driver_sql(
                "INSERT INTO teams VALUES (1, 'alpha', 'k', 'd', '2026-11-30 00:00:00', NULL)"
            )
            connection.exec_driver_sql(
                ROW.format(truth="f" * 64, metrics=_metrics(tmp_path)).replace("%", "%%")
            )
        old.close()
        db = Database(database_url(None, url))
        db.migrate()
        _check_upgraded(db)
        db.close()


def test_a_teams_submission_is_never_counted_as_a_baseline(tmp_path: Path) -> None:
    truth = make_truth(tmp_path / "toyset" / "qrels")
    hosts = tmp_path / "host-runs"
    run = harness_run(hosts, truth / "test", 2, 0, 0.5)
    with live_server(tmp_path, truth) as server:
        token = server.add_team("alpha")
        response = server.post(token, run / "t2v.run.gz", run / "v2t.run.gz", name="mine")
        assert server.wait(token, response.json()["id"])["status"] == "scored"
        added = server.cli("baseline", "add", "--board", str(server.board), "--truth",
                           str(truth), str(hosts))  # fmt: skip
        assert added.returncode == 2
        assert "skipped: the same files are a team's submission" in added.stderr
        assert "0 of 1 runs on the board as baselines" in added.stdout
        with server.client() as http:
            (board,) = http.get("/api/board").json()["boards"]
        assert [(row["team"], row["baseline"]) for row in board["submissions"]] == [
            ("alpha", False)
        ]


def test_a_failed_baseline_stays_failed_when_added_again(tmp_path: Path) -> None:
    truth = make_truth(tmp_path / "toyset" / "qrels")
    hosts = tmp_path / "host-runs"
    good = harness_run(hosts, truth / "test", 2, 0, 0.5)
    broken = harness_run(hosts, truth / "test", 3, 0, 0.5)
    (broken / "t2v.run.gz").write_bytes(b"not gzip at all\n")
    with live_server(tmp_path, truth) as server:
        command = ("baseline", "add", "--board", str(server.board), "--truth", str(truth))
        first = server.cli(*command, str(hosts))
        assert first.returncode == 2
        (failed,) = [line for line in first.stderr.splitlines() if " failed: " in line]
        reason = failed.split(" failed: ", 1)[1]
        assert "1 of 2 runs on the board as baselines" in first.stdout
        again = server.cli(*command, str(hosts))
        assert again.returncode == 2
        assert f"{broken}: #" in again.stderr and f" failed: {reason}" in again.stderr
        assert f"{good}: already on the board" in again.stderr
        assert f"{broken}: already on the board" not in again.stderr
        assert "1 of 2 runs on the board as baselines" in again.stdout
