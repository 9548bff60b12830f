"""`mrw-bench compare A B --per-query PATH`: two runs' per-query tables joined on the query."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import torch

from mrw.bench.cli import main
from mrw.bench.runner import run_method
from mrw.testing.bench_synthetic import synthetic_options


@pytest.fixture()
def two_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    options = synthetic_options(tmp_path / "cache", tmp_path / "runs", epochs=1)
    a = run_method("tiny-test-method", {"embed_dim": 8}, options).run_dir
    b = run_method("pvse", {"k": 2, "embed_dim": 16, "hidden_dim": 16}, options).run_dir
    return a, b


def test_per_query_export_of_two_runs(two_runs, tmp_path, capsys) -> None:
    a, b = two_runs
    out = tmp_path / "paired.parquet"
    assert main(["compare", str(a), str(b), "--per-query", str(out)]) == 0
    rows = pq.read_table(out).to_pylist()
    ranks = {
        side: json.loads((run / "query_ranks.json").read_text())
        for side, run in (("a", a), ("b", b))
    }
    assert len(rows) == sum(len(ranks["a"][d]["ranks"]) for d in ("t2v", "v2t"))
    for row in rows:
        for side in "ab":
            got = ranks[side][row["direction"]]
            assert row[f"rank_{side}"] == got["ranks"][got["queries"].index(row["query_id"])]
        assert row["fixed"] == (row["rank_a"] != 1 and row["rank_b"] == 1)
        assert row["broken"] == (row["rank_a"] == 1 and row["rank_b"] != 1)
    assert len(rows[0]["head_ranks_b"]) == 2 and "head_ranks_a" not in rows[0]  # K=2 vs K=1
    fixed = sum(r["fixed"] for r in rows if r["direction"] == "t2v")
    broken = sum(r["broken"] for r in rows if r["direction"] == "t2v")
    assert (
        f"t2v: {len(ranks['a']['t2v']['ranks'])} queries; fixed by B (wrong at R@1 in A): "
        f"{fixed}; broken by B: {broken}"
    ) in capsys.readouterr().out


def test_per_query_needs_two_runs(two_runs, tmp_path, capsys) -> None:
    a, _ = two_runs
    assert main(["compare", str(a), "--per-query", str(tmp_path / "x.parquet")]) == 2
    assert "exactly two run folders" in capsys.readouterr().err
    notes = tmp_path / "notes.parquet"
    notes.write_text("my notes")  # not a Parquet file: never overwritten
    assert main(["compare", str(a), str(a), "--per-query", str(notes)]) == 2
    assert notes.read_text() == "my notes"
