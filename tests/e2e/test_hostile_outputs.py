"""Bad input to the newest commands (issue 28's rule): one `error:` line, exit 2, nothing of
the user's replaced — found by trying to break them from outside."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from leaderboard.cli import main as leaderboard_main
from mrw.bench.cli import main as bench_main
from mrw.cli import main as mrw_main
from mrw.testing.run_records import write_metrics_json

BIN = Path(sys.executable).parent
DIRECTION = {"R@1": 10.0, "R@5": 20.0, "R@10": 30.0, "MedR": 9, "MeanR": 12.0, "nMR": 0.09,
             "queries": 100, "missing_queries": 0}  # fmt: skip


def _cli(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MRW_CACHE": str(tmp_path / "cache")}
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        capture_output=True, text=True, check=False, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip


def _refused(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and words in done.stderr, done.stderr


def _run(root: Path, name: str, dataset: str) -> Path:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    config = {"method": "vsepp", "options": {"seed": 0}}
    (run_dir / "config.json").write_text(json.dumps(config))
    write_metrics_json(run_dir, config, {"t2v": DIRECTION, "v2t": DIRECTION, "rsum": 120.0},
                       dataset=dataset)  # fmt: skip
    (run_dir / "per_query.parquet").write_bytes(b"PAR1 keep PAR1")
    return run_dir


def test_per_query_never_replaces_a_runs_own_table_nor_pairs_two_test_sets(tmp_path) -> None:
    a, b, other = (_run(tmp_path, n, d) for n, d in (("a", "toy"), ("b", "toy"), ("c", "toy-v3")))
    own = a / "per_query.parquet"
    _refused(_cli(tmp_path, "mrw-bench", "compare", str(a), str(b), "--per-query", str(own)),
             "outside the run folders")  # fmt: skip
    assert own.read_bytes() == b"PAR1 keep PAR1"
    _refused(_cli(tmp_path, "mrw-bench", "compare", str(a), str(other), "--per-query", "p.pq"),
             "one test set")  # fmt: skip


def test_explore_keeps_a_folder_that_is_not_an_earlier_page(tmp_path) -> None:
    run = _run(tmp_path, "a", "toy")
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "index.html").write_text("keep")
    (folder / "notes.txt").write_text("keep")
    _refused(_cli(tmp_path, "mrw-bench", "explore", str(run), "--out", str(folder)),
             "earlier explorer page")  # fmt: skip
    assert (folder / "index.html").read_text() == "keep"


@pytest.mark.parametrize("config", ["{", "{}", "[1]"])
def test_heads_on_a_folder_that_is_not_a_run(tmp_path, config: str) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(config)
    _refused(_cli(tmp_path, "mrw-bench", "heads", str(tmp_path / "run")), "cannot rebuild")
    _refused(_cli(tmp_path, "mrw-bench", "heads", str(tmp_path / "absent")), "cannot rebuild")


@pytest.mark.parametrize(
    "entries",
    ["abc", [5], [{"key": "k", "label": "l", "epochs": 2, "patience": None}],
     [{"key": "k", "label": "l", "epochs": 2, "patience": "x", "choice": {"lr": 1, "fields": {}}}],
     [{"key": "k", "label": "l", "epochs": 2, "patience": 1, "choice": {"lr": "x", "fields": {}}}]],
)  # fmt: skip
def test_a_malformed_tuning_file_is_one_line(tmp_path, entries) -> None:
    bad = tmp_path / "tuning.json"
    bad.write_text(json.dumps({"format": "mrw-tuning", "version": 1, "dataset": "toy",
                               "entries": entries}))  # fmt: skip
    done = _cli(tmp_path, "mrw-bench", "reproduce", "toy", "--tuning", str(bad), "--dry-run")
    _refused(done, "not a tuning file")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    _refused(_cli(tmp_path, "mrw-bench", "reproduce", "toy", "--tuning", str(deep), "--dry-run"),
             "cannot read a tuning file")  # fmt: skip


def test_tune_never_replaces_a_file_that_is_not_its_own(tmp_path) -> None:
    mine = tmp_path / "checkpoint.pt"
    mine.write_bytes(b"not a png")
    done = _cli(tmp_path, "mrw-bench", "tune", "vsepp", "--lr-grid", "0.001", "--epochs", "1",
                "--plot", str(mine))  # fmt: skip
    _refused(done, "not an earlier output")
    assert mine.read_bytes() == b"not a png"
    notes = tmp_path / "notes.txt"
    notes.write_text("keep")
    _refused(_cli(tmp_path, "mrw-bench", "tune", "vsepp", "--out", str(notes)), "not an earlier")
    assert notes.read_text() == "keep"


def test_toy_out_must_name_a_folder(tmp_path) -> None:
    _refused(_cli(tmp_path, "mrw", "toy", "--out", ".", "--num-pairs", "9"), "names no folder")


# --- Inputs that were accepted or misreported (in-process: seconds, not a process each).
MAINS = {"mrw": mrw_main, "mrw-bench": bench_main, "mrw-leaderboard": leaderboard_main}


def _main(capsys: pytest.CaptureFixture[str], line: str, **names: Path) -> tuple[int, str]:
    program, *argv = shlex.split(line.format(**names))
    code = MAINS[program](argv)
    return code, capsys.readouterr().err


def _one_line(code: int, err: str, words: str) -> None:
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert words in err and "Traceback" not in err, err


# (command line with {v}, the flag, a value below its range). Other inputs make each command
# stop after parsing (a missing dataset or truth), so an accepted value costs no work.
RANGES = [
    ("mrw-bench reproduce toy --dry-run --runs-dir {new} --epochs {v}", "--epochs", "0"),
    ("mrw-bench reproduce toy --dry-run --runs-dir {new} --seeds {v}", "--seeds", "0"),
    ("mrw-bench run vsepp --dataset {missing} --epochs {v}", "--epochs", "-1"),
    ("mrw-bench run vsepp --dataset {missing} --lr {v}", "--lr", "0"),
    ("mrw-bench run vsepp --dataset {missing} --image-size {v}", "--image-size", "7"),
    ("mrw-bench run vsepp --dataset {missing} --patience {v}", "--patience", "0"),
    ("mrw-bench tune vsepp --dataset {missing} --patience {v}", "--patience", "-1"),
    ("mrw-bench explore {missing} --out {new} --max-queries {v}", "--max-queries", "0"),
    ("mrw toy --kind image --ceiling --out {new} --num-images {v}", "--num-images", "2"),
    ("mrw toy --kind image --ceiling --out {new} --size {v}", "--size", "15"),
    ("mrw-leaderboard score --truth {missing} --max-bytes {v} {missing} {missing}",
     "--max-bytes", "-1"),
    ("mrw-leaderboard serve --board {new}/b.db --truth {missing} --per-day {v}", "--per-day",
     "0"),
    ("mrw-bench run vsepp --dataset {missing} --qb-bank-size {v}", "--qb-bank-size", "-1"),
    # a board per value: opening the test phase once fixes its private fraction
    ("mrw-leaderboard phase open test --board {tmp}/{v}.db --private-fraction {v}",
     "--private-fraction", "0"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "flag", "below"), RANGES, ids=[f"{r[1]}-{r[0].split()[1]}"
                                                                    for r in RANGES])  # fmt: skip
def test_a_range_error_states_the_range_that_is_accepted(
    tmp_path, capsys, line: str, flag: str, below: str
) -> None:
    names = {"missing": tmp_path / "absent", "new": tmp_path / "new", "tmp": tmp_path}
    code, err = _main(capsys, line.replace("{v}", below), **names)
    _one_line(code, err, flag)
    stated = re.search(r"between (-?[\d,]+) and|> (\d+)", err)
    assert stated, err
    lowest = stated[1].replace(",", "") if stated[1] else f"{stated[2]}.000001"
    highest = re.search(r"between [-\d,]+ and ([\d,]+)|<= ([\d.e+]+)|< ([\d.e+]+)", err)
    assert highest, err
    top = highest[1] or highest[2] or str(float(highest[3]) * (1 - 1e-6))
    # the ends of the range the message states are accepted: any error now is about something
    # else (a missing dataset or truth)
    for value in (lowest, top.replace(",", "")):
        code, err = _main(capsys, line.replace("{v}", value), **names)
        assert flag not in err, (value, err)
    assert not (tmp_path / "new").exists()  # nothing written by any attempt


def test_reproduce_epochs_zero_is_refused_as_run_refuses_it(tmp_path, capsys) -> None:
    for line in ("mrw-bench reproduce toy --dry-run --epochs 0",
                 "mrw-bench run vsepp --dataset {missing} --epochs 0"):  # fmt: skip
        code, err = _main(capsys, line, missing=tmp_path / "absent")
        _one_line(code, err, "--epochs: must be between 1 and 100,000, got '0'")


def test_headroom_on_a_missing_folder_says_not_found(tmp_path, capsys) -> None:
    code, err = _main(capsys, "mrw-bench headroom --dataset {missing}", missing=tmp_path / "nope")
    _one_line(code, err, "not found")
    assert "moment labels" not in err


EMPTY = [  # (command line, the flag given an empty value)
    ("mrw-bench run vsepp --kk-reductions ''", "--kk-reductions"),
    ("mrw-bench run vsepp --kk-reductions ' , '", "--kk-reductions"),
    ("mrw-bench run vsepp --tuning ''", "--tuning"),
    ("mrw-bench run vsepp --run-id ''", "--run-id"),
    ("mrw-bench run vsepp --run-id ' '", "--run-id"),
    ("mrw-bench compare {root} --json ''", "--json"),
    ("mrw-bench compare {root} --markdown ''", "--markdown"),
    ("mrw-bench reproduce toy --dry-run --tuning ''", "--tuning"),
    ("mrw-bench reproduce toy --dry-run --out ''", "--out"),
    ("mrw-bench tune vsepp --out ''", "--out"),
    ("mrw-leaderboard serve --board {root}/b.db --truth {root} --dataset ''", "--dataset"),
]


@pytest.mark.parametrize(("line", "flag"), EMPTY)
def test_an_empty_value_is_refused_not_read_as_not_given(
    tmp_path, capsys, line: str, flag: str
) -> None:
    code, err = _main(capsys, line, root=tmp_path)
    _one_line(code, err, f"argument {flag}:")
    assert list(tmp_path.iterdir()) == []


def test_a_tuning_file_of_another_version_is_refused_naming_it(tmp_path, capsys) -> None:
    entry = {"key": "k", "label": "l", "epochs": 2, "patience": None,
             "choice": {"lr": 0.001, "fields": {}}}  # fmt: skip
    future = tmp_path / "tuning.json"
    document = {"format": "mrw-tuning", "dataset": "toy", "entries": [entry]}
    for version in (2, "1", True):
        future.write_text(json.dumps({**document, "format_version": version}))
        for line in ("mrw-bench reproduce toy --dry-run --tuning {f}",
                     "mrw-bench run vsepp --tuning {f}"):  # fmt: skip
            code, err = _main(capsys, line, f=future)
            _one_line(code, err, f"format_version {version!r} is not one this toolkit reads (1)")
    future.write_text(json.dumps({**document, "format_version": 1}))  # the version it reads
    code, err = _main(capsys, "mrw-bench reproduce toy --dry-run --tuning {f}", f=future)
    assert "format_version" not in err


def test_reproduce_dry_run_checks_out_as_a_run_would_and_writes_nothing(tmp_path, capsys) -> None:
    mine = tmp_path / "notes.txt"
    mine.write_text("keep")
    code, err = _main(capsys, "mrw-bench reproduce toy --dry-run --out {f}", f=mine)
    _one_line(code, err, "not a folder")
    assert mine.read_text() == "keep"
    fresh = tmp_path / "tables"
    line = "mrw-bench reproduce toy --dry-run --out {f} --runs-dir {r}"
    code, err = _main(capsys, line, f=fresh, r=tmp_path / "runs")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing created
