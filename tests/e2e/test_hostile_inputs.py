"""Hostile inputs found by testing: each gives a one-line error and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mrw.core.cliutil import run_main


def test_a_full_stdout_is_a_one_line_error(monkeypatch, capsys):
    with open("/dev/full", "w") as full:
        monkeypatch.setattr(sys, "stdout", full)
        assert run_main(lambda: print("x" * 100_000)) == 2
    assert capsys.readouterr().err == "error: cannot write output: No space left on device\n"


def test_other_os_errors_are_not_taken_for_stdout(capsys):
    def body() -> None:
        open("/nonexistent/file")  # noqa: SIM115

    with pytest.raises(FileNotFoundError):
        run_main(body)


@pytest.mark.slow  # 15 interpreters
def test_a_bad_run_file_always_exits_2_never_aborts(tmp_path):
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "t2v.qrels").write_text("q1 0 v1 1\nq2 0 v2 1\n")
    (truth / "v2t.qrels").write_text("v1 0 q1 1\nv2 0 q2 1\n")
    (tmp_path / "v2t.run").write_text("v1 Q0 q1 1 1.0 t\nv2 Q0 q2 1 1.0 t\n")
    bad = {
        "nan.run": "q1 Q0 v1 1 nan t\nq2 Q0 v2 1 1.0 t\n",
        "unknown.run": "q9 Q0 v1 1 1.0 t\nq2 Q0 v2 1 1.0 t\n",
        "blank.run": "q1 Q0 v1 1 1.0 t\n   \nq2 Q0 v2 1 1.0 t\n",
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
    command = [str(Path(sys.executable).parent / "mrw-leaderboard")]
    for attempt in range(15):
        name = list(bad)[attempt % 3]
        args = ["--truth", str(truth), name]
        args = ["score", *args, "v2t.run"] if attempt % 2 else ["validate", *args]
        done = subprocess.run(
            command + args, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 2, (name, done.returncode, done.stderr)
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
