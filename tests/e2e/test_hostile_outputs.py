"""Bad input to the newest commands (issue 28's rule): one `error:` line, exit 2, nothing of
the user's replaced — found by trying to break them from outside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
