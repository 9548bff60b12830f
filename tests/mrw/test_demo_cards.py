"""The demo's leaderboard stage submits each run with its protocol card."""

from __future__ import annotations

from pathlib import Path

import pytest

from leaderboard.board import list_submissions
from mrw.bench.compare import compare_runs
from mrw.bench.options import RunOptions
from mrw.bench.runner import run_method
from mrw.dataset import export_qrels
from mrw.demo import DemoContext, leaderboard_stage
from mrw.testing import bench_synthetic  # noqa: F401  (registers the tiny test method)


def test_leaderboard_stage_stores_each_runs_card(
    tmp_path: Path, toy_dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    options = RunOptions(
        dataset=str(toy_dataset_dir), epochs=1, runs_dir=str(tmp_path / "runs"), progress=False
    )
    card = run_method("tiny-test-method", {}, options).record.protocol_card
    ctx = DemoContext(tmp_path / "demo")
    ctx.state["qrels"] = export_qrels(toy_dataset_dir, "test", tmp_path / "qrels" / "test")
    ctx.state["comparison"] = compare_runs([tmp_path / "runs"])
    assert "metrics identical to the harness" in leaderboard_stage(ctx)
    (submission,) = list_submissions(ctx.out_dir / "leaderboard" / "board.db")
    assert submission.protocol_card == card
    assert card.summary() in (ctx.out_dir / "leaderboard" / "leaderboard.md").read_text()
