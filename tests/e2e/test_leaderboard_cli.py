"""`mrw-leaderboard` end to end: score/validate/add/render, one-line errors, no tracebacks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaderboard.cli import main
from leaderboard.qrels import write_qrels
from leaderboard.runfile import write_run
from leaderboard.score import score_submission

N_VIDEOS, CAPTIONS = 12, 2  # TGIF-style: two sentences per video


@pytest.fixture
def truth(tmp_path: Path) -> Path:
    root = tmp_path / "toyset" / "qrels" / "test"
    pairs = [(f"s{v}_{c}", f"v{v}") for v in range(N_VIDEOS) for c in range(CAPTIONS)]
    write_qrels(root / "t2v.qrels", pairs)
    write_qrels(root / "v2t.qrels", [(v, s) for s, v in pairs])
    return root


def _runs(tmp_path: Path, seed: int, noise: float, depth: int | None = None) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    sentences = [f"s{v}_{c}" for v in range(N_VIDEOS) for c in range(CAPTIONS)]
    videos = [f"v{v}" for v in range(N_VIDEOS)]
    match = np.repeat(np.eye(N_VIDEOS), CAPTIONS, axis=0)  # [sentences, videos]
    scores = (match + noise * rng.standard_normal(match.shape)).astype(np.float32)
    t2v, v2t = tmp_path / f"t2v-{seed}.run.gz", tmp_path / f"v2t-{seed}.run"
    write_run(t2v, sentences, videos, scores, f"m{seed}", depth=depth)
    write_run(v2t, videos, sentences, scores.T, f"m{seed}", depth=depth)
    return t2v, v2t


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_score_json_matches_the_library(tmp_path: Path, truth: Path, capsys) -> None:
    t2v, v2t = _runs(tmp_path, seed=0, noise=0.6)
    code, out, _ = _cli(capsys, "score", "--truth", truth, t2v, v2t, "--json")
    assert code == 0
    result = json.loads(out)
    assert result == json.loads(json.dumps(score_submission(truth, t2v, v2t).to_json()))
    assert set(result) == {"t2v", "v2t", "rsum"}
    assert set(result["t2v"]) == {
        "R@1", "R@5", "R@10", "MedR", "MeanR", "nMR", "mAP", "nDCG@10", "queries",
        "missing_queries",
    }  # fmt: skip
    assert result["t2v"]["queries"] == N_VIDEOS * CAPTIONS and result["v2t"]["queries"] == N_VIDEOS
    code, out, _ = _cli(capsys, "score", "--truth", truth, t2v, v2t)
    assert code == 0 and "rsum" in out and "R@10" in out


def test_perfect_run_scores_100(tmp_path: Path, truth: Path, capsys) -> None:
    t2v, v2t = _runs(tmp_path, seed=1, noise=0.0)
    result = json.loads(_cli(capsys, "score", "--truth", truth, t2v, v2t, "--json")[1])
    assert result["rsum"] == 600.0 and result["t2v"]["MedR"] == 1


def test_bad_run_is_one_line_error_exit_2(tmp_path: Path, truth: Path, capsys) -> None:
    t2v, v2t = _runs(tmp_path, seed=0, noise=0.5)
    bad = tmp_path / "bad.run"
    bad.write_text("s0_0 Q0 v0 1 0.5 t\ns0_0 Q0 v1 2 oops t\n")
    code, out, err = _cli(capsys, "score", "--truth", truth, bad, v2t)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "line 2" in err and "'oops'" in err
    code, _, err = _cli(capsys, "score", "--truth", tmp_path / "nowhere", t2v, v2t)
    assert code == 2 and "not found" in err


def test_validate_guesses_direction(tmp_path: Path, truth: Path, capsys) -> None:
    t2v, v2t = _runs(tmp_path, seed=0, noise=0.5, depth=5)
    code, out, _ = _cli(capsys, "validate", "--truth", truth, t2v)
    assert code == 0 and "(t2v)" in out and "depth 5" in out
    anonymous = tmp_path / "submission.txt"
    anonymous.write_bytes(v2t.read_bytes())
    code, out, _ = _cli(capsys, "validate", "--truth", truth, anonymous)
    assert code == 0 and "(v2t)" in out and f"{N_VIDEOS} of {N_VIDEOS} queries" in out
    code, _, err = _cli(capsys, "validate", "--truth", truth, anonymous, "--direction", "t2v")
    assert code == 2 and "unknown query id 'v" in err


def test_add_detects_resubmission_and_render_writes_board(
    tmp_path: Path, truth: Path, capsys
) -> None:
    board, out_dir = tmp_path / "board.db", tmp_path / "site"
    weak, strong = _runs(tmp_path, seed=2, noise=2.0), _runs(tmp_path, seed=3, noise=0.3)
    common = ["--board", board, "--truth", truth]
    assert _cli(capsys, "add", *common, "--name", "Weak", "--team", "A", *weak)[0] == 0
    code, out, _ = _cli(
        capsys, "add", *common, "--name", "Strong", "--team", "B", "--description", "a <b>", *strong
    )
    assert code == 0 and "recorded #2" in out and "toyset/test" in out
    code, _, err = _cli(capsys, "add", *common, "--name", "Again", "--team", "C", *weak)
    assert code == 2 and "already submitted as #1 'Weak'" in err

    assert _cli(capsys, "render", "--board", board, "--out", out_dir)[0] == 0
    document = json.loads((out_dir / "leaderboard.json").read_text())
    (group,) = document["boards"]
    assert (group["dataset"], group["split"]) == ("toyset", "test")
    assert [s["name"] for s in group["submissions"]] == ["Strong", "Weak"]  # by rsum
    assert len(group["submissions"][0]["t2v_sha256"]) == 64
    markdown = (out_dir / "leaderboard.md").read_text()
    assert "## toyset / test" in markdown
    strong_row = next(line for line in markdown.splitlines() if "| Strong |" in line)
    assert strong_row.count("**") >= 2  # its best values are bold
    page = (out_dir / "index.html").read_text()
    assert "a &lt;b&gt;" in page and "<script src" not in page and "http" not in page


def test_render_of_missing_board_is_an_error(tmp_path: Path, capsys) -> None:
    code, _, err = _cli(capsys, "render", "--board", tmp_path / "no.db", "--out", tmp_path)
    assert code == 2 and "no such board" in err


def test_board_commands_refuse_a_server_database(tmp_path: Path, truth: Path, capsys) -> None:
    """`render` and `add` on the file of `team add`/`serve`: one line naming the server's pages
    (never a traceback), and the file is left untouched."""
    import sqlite3

    pytest.importorskip("alembic", reason="the server extra is not installed")
    board = tmp_path / "board.db"
    assert _cli(capsys, "team", "add", "X", "--board", board)[0] == 0
    with sqlite3.connect(board) as conn:  # a scored submission, as the server records one
        conn.execute(
            "INSERT INTO submissions (team_id, name, description, status, submitted_utc, "
            "attempts, metrics_json) VALUES (1, 'm', '', 'scored', '2026-01-01 00:00:00', 1, '{}')"
        )
    before = board.read_bytes()
    weak = _runs(tmp_path, seed=2, noise=2.0)
    for argv in (
        ["render", "--board", board, "--out", tmp_path / "site"],
        ["add", "--board", board, "--truth", truth, "--name", "m", "--team", "t", *weak],
    ):
        code, out, err = _cli(capsys, *argv)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, err
        assert err.startswith(f"error: {board}: a leaderboard server's database"), err
        assert "mrw-leaderboard serve" in err and "GET /api/board" in err
    assert board.read_bytes() == before and not (tmp_path / "site").exists()


def test_render_refuses_a_foreign_submissions_table(tmp_path: Path, capsys) -> None:
    import sqlite3

    board = tmp_path / "other.db"
    with sqlite3.connect(board) as conn:
        conn.execute("CREATE TABLE submissions (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO submissions (name) VALUES ('x')")
    code, _, err = _cli(capsys, "render", "--board", board, "--out", tmp_path / "site")
    assert code == 2 and "not a usable board" in err and "lacks team, description" in err


def _subparser(command: str) -> argparse.ArgumentParser:
    from leaderboard.cli import COMMANDS
    from mrw.core.cliutil import build_parser

    parser = build_parser("mrw-leaderboard", "", COMMANDS)
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


@pytest.mark.parametrize("command", ["serve", "submit", "status"])
def test_server_options_show_their_defaults(command: str) -> None:
    parser = _subparser(command)
    silent = [
        action.option_strings[-1]
        for action in parser._actions
        if action.option_strings
        and action.default not in (None, False, "", argparse.SUPPRESS)
        and "default" not in (action.help or "")
    ]
    assert silent == []
    if command != "serve":
        (timeout,) = (a for a in parser._actions if "--timeout" in a.option_strings)
        assert "(default: 3600)" in timeout.help % {"default": timeout.default}


def test_serve_help_names_its_truth_folder_and_upload_folder() -> None:
    options = {a.option_strings[-1]: a.help for a in _subparser("serve")._actions if a.help}
    assert "folder of split folders" in options["--truth"]
    assert "(e.g. DATASET/qrels)" in options["--truth"]
    assert "board.db.uploads/" in options["--storage"]
    assert "default: %(default)s" in options["--workers"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200), gz=st.booleans())
def test_cli_never_prints_a_traceback(
    tmp_path: Path, truth: Path, capsys, data: bytes, gz: bool
) -> None:
    import gzip

    path = tmp_path / "fuzz.run"
    path.write_bytes(gzip.compress(data)[: len(data) + 5] if gz else data)
    code, _, err = _cli(capsys, "score", "--truth", truth, path, path)
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
