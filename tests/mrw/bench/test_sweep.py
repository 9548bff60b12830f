"""`mrw-bench sweep`: points, seeds, reuse of finished runs, the PNG, and a real run end to end."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from leaderboard.metrics import Metrics
from mrw.bench.experiments import Experiment, run_experiments, run_id
from mrw.bench.options import RunOptions
from mrw.bench.record import RunRecord
from mrw.bench.runner import RunResult
from mrw.bench.sweep import SweepError, SweepSpec, parse_values, run_sweep, write_sweep
from mrw.testing.run_records import write_metrics_json

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class FakeRunner:
    """Writes run records as the harness does, with rsum = 100 + 10 k + seed - 20 [no-mil]."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], int]] = []

    def __call__(self, method: str, overrides: Mapping[str, Any], options: RunOptions) -> RunResult:
        self.calls.append((method, dict(overrides), options.seed))
        rsum = 100 + 10 * overrides.get("k", 5) + options.seed - 20 * bool(overrides.get("no_mil"))
        run_dir = Path(options.runs_dir) / options.dataset / method / options.run_id
        run_dir.mkdir(parents=True)
        config = {
            "method": method,
            "method_config": dict(overrides),
            "options": dataclasses.asdict(options),
        }
        direction = {
            "R@1": rsum / 6,
            "R@5": rsum / 6,
            "R@10": rsum / 6,
            "MedR": 3,
            "nMR": 0.03,
            "queries": 100,
        }
        metrics = {"t2v": direction, "v2t": direction, "rsum": rsum}
        (run_dir / "config.json").write_text(json.dumps(config))
        write_metrics_json(
            run_dir, config, metrics, dataset=options.dataset, seed=options.seed, wall_time_s=0.0
        )
        return RunResult(run_dir, Metrics.from_json(metrics), RunRecord.from_disk(run_dir))


def test_parse_values() -> None:
    assert parse_values("0..3", int) == [0, 1, 2, 3]
    assert parse_values("0,0.01,1", float) == [0.0, 0.01, 1.0]
    for bad in ("3..1", "a..b", ",", "x"):
        with pytest.raises(SweepError):
            parse_values(bad, int)


def test_k_sweep_with_ablation_seeds_plot_and_reuse(tmp_path: Path) -> None:
    spec = SweepSpec("k", [1, 2, 3], {"PVSE": {}, "no-mil": {"no_mil": True}})
    options = RunOptions(dataset="toy", runs_dir=str(tmp_path / "runs"))
    runner = FakeRunner()
    result = run_sweep(spec, options, seeds=[0, 1, 2], runner=runner, log=lambda _: None)
    assert len(runner.calls) == 2 * 3 * 3
    point = next(p for p in result.points if p.variant == "no-mil" and p.value == 2)
    assert point.seeds == [0, 1, 2]
    assert point.rsum.mean == pytest.approx(100 + 20 + 1 - 20) and point.rsum.std == pytest.approx(
        1.0
    )
    assert "pvse (k=2, no\\_mil=True)" in result.table

    paths = write_sweep(result, tmp_path / "out")
    assert paths["png"].read_bytes().startswith(PNG_MAGIC) and paths["png"].stat().st_size > 5000
    saved = json.loads(paths["json"].read_text())
    assert saved["parameter"] == "k" and len(saved["points"]) == 6
    assert saved["chance_rsum"] == pytest.approx(32.0)  # 100 videos, 100 sentences

    # Running the same sweep again trains nothing: every point is reused.
    again = run_sweep(spec, options, seeds=[0, 1, 2], runner=runner, log=lambda _: None)
    assert len(runner.calls) == 18
    assert [p.rsum.mean for p in again.points] == [p.rsum.mean for p in result.points]


def test_bad_config_fails_before_training(tmp_path: Path) -> None:
    # k=0 cannot be combined with no_mil: PVSE's config refuses it before any run starts.
    spec = SweepSpec("k", [0, 1], {"PVSE": {}, "no-mil": {"no_mil": True}})
    runner = FakeRunner()
    with pytest.raises(Exception, match="k=0"):
        run_sweep(
            spec, RunOptions(runs_dir=str(tmp_path)), seeds=[0], runner=runner, log=lambda _: None
        )
    assert runner.calls == []


def test_run_id_depends_on_settings_not_bookkeeping() -> None:
    exp = Experiment("pvse", {"k": 1}, "pvse k=1")
    a = RunOptions(dataset="toy", device="cpu", runs_dir="x")
    assert run_id(exp, a, 0) == run_id(exp, dataclasses.replace(a, device="cuda", runs_dir="y"), 0)
    assert run_id(exp, a, 0) != run_id(exp, dataclasses.replace(a, epochs=3), 0)
    assert run_id(exp, a, 0) != run_id(Experiment("pvse", {"k": 2}, "pvse k=1"), a, 0)
    assert run_id(exp, a, 0).startswith("pvse-k=1-s0-")


@pytest.mark.slow
def test_sweep_end_to_end_on_synthetic_features(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real runner: two K values train, the plot comes out, and K=2 beats chance."""
    from mrw.testing import bench_synthetic

    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    options = bench_synthetic.synthetic_options(
        tmp_path / "cache", tmp_path / "runs", epochs=3, lr=2e-3
    )
    base = {"embed_dim": 32, "hidden_dim": 32, "word_dim": 300}
    spec = SweepSpec("k", [0, 2], base=base)
    result = run_sweep(spec, options, seeds=[0], log=lambda _: None)
    chance = 2 * 100 * (1 + 5 + 10) / bench_synthetic.SIZES["test"]
    assert all(p.rsum.mean > chance for p in result.points)
    assert write_sweep(result, tmp_path / "out")["png"].read_bytes().startswith(PNG_MAGIC)
    runs = run_experiments(
        [Experiment("pvse", {**base, "k": 2}, "pvse PVSE k=2")], options, [0], log=lambda _: None
    )
    assert str(runs[0].records[0].run_dir) == result.points[1].runs[0]  # found again, not retrained
