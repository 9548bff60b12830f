"""A test split too small to mean anything (a 2-pair split scores rsum 500 by construction)
gets a warning in the `mrw-bench run` table and in the run record (`small_split`)."""

from __future__ import annotations

import numpy as np
import pytest

from leaderboard.metrics import combine, ranks_to_metrics
from mrw.bench.cli import main
from mrw.bench.record import MIN_QUERIES, RunRecord, small_split_warning
from mrw.toy.video import build_toy


def _metrics(queries: int):
    ranks = np.arange(queries) % 7 + 1
    direction = ranks_to_metrics(ranks, gallery_size=queries)
    return combine(direction, direction)


def test_the_threshold() -> None:
    assert small_split_warning(_metrics(MIN_QUERIES), "test") is None
    warning = small_split_warning(_metrics(MIN_QUERIES - 1), "test")
    assert warning is not None and f"{MIN_QUERIES - 1} queries" in warning


@pytest.mark.slow
def test_a_two_pair_test_split_is_flagged(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    folder = build_toy(tmp_path / "tiny", num_pairs=15)
    assert len((folder / "qrels" / "test" / "t2v.qrels").read_text().splitlines()) == 2
    argv = ["run", "vsepp", "--dataset", str(folder), "--epochs", "1", "--batch-size", "4",
            "--runs-dir", str(tmp_path / "runs"), "--run-id", "tiny"]  # fmt: skip
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())  # the table wraps its caption
    assert "warning: the test split has 2 queries" in out
    (run_dir,) = (tmp_path / "runs").glob("*/vsepp/tiny")
    record = RunRecord.from_disk(run_dir)
    assert record.small_split is not None and "2 queries" in record.small_split
