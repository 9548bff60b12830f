"""`mrw-bench reproduce`: the paper's settings per target, the dry-run plan, and execution."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mrw.bench import runner as runner_module
from mrw.bench.cli import main as bench_main
from mrw.bench.experiments import validate
from mrw.bench.options import RunOptions
from mrw.bench.reproduce import execute, make_plan, paper_options
from mrw.catalog import get_dataset
from tests.mrw.bench.test_sweep import FakeRunner


def test_tables_hold_the_paper_settings() -> None:
    tgif = make_plan("table3", get_dataset("tgif"))
    mrw = make_plan("table4", get_dataset("mrw"))
    assert {e.method for e in tgif.experiments} == {
        "pvse",
        "devise",
        "vsepp",
        "order",
        "corr_ae",
        "dual_path",
    }
    pvse_k = {e.name: e.overrides["k"] for e in tgif.experiments if e.method == "pvse"}
    assert pvse_k == {"pvse K=1": 1, "pvse K=3": 3}
    assert {e.overrides["k"] for e in mrw.experiments if e.method == "pvse"} == {1, 5}
    for plan in (tgif, mrw):
        full = next(
            e for e in plan.experiments if e.name.startswith("pvse K=") and e.overrides["k"] > 1
        )
        assert (
            full.overrides["margin"],
            full.overrides["div_weight"],
            full.overrides["mmd_weight"],
        ) == (0.1, 0.1, 0.01)
    options = paper_options(get_dataset("tgif"), RunOptions())
    assert (options.num_frames, options.batch_size, options.epochs) == (8, 128, 30)
    # The learning rate is each method's own: the paper's 2e-4 for PVSE, Vendrov et al.'s
    # 1e-3 for Order.
    assert options.lr is None
    assert (options.resolved("pvse").lr, options.resolved("order").lr) == (2e-4, 1e-3)
    assert (options.backbone, options.image_size) == ("resnet152", 224)
    assert paper_options(get_dataset("mrw"), RunOptions()).num_frames == 4


def test_toy_table_shares_settings_and_holds_the_k_rows() -> None:
    plan = make_plan("toy", get_dataset("toy"))
    summed = {e.name for e in plan.experiments if e.overrides.get("max_violation") is False}
    pvse_rows = {"pvse K=0", "pvse K=1", "pvse K=3", "pvse K=5"}
    assert summed == {"VSE0 (summed negatives)", "order", "dual_path"} | pvse_rows
    hardest = [e for e in plan.experiments if e.overrides.get("max_violation") is True]
    assert [(e.name, e.method) for e in hardest] == [("VSE++ (hardest negative)", "vsepp")]
    assert [e.name for e in plan.experiments[:2]] == ["pvse K=1", "pvse K=3"]  # claim first
    pvse = {e.name: e.overrides for e in plan.experiments if e.method == "pvse"}
    assert set(pvse) == pvse_rows
    assert all(o["embed_dim"] == o["hidden_dim"] == 256 for o in pvse.values())
    sizes = {
        e.method: e.overrides.get("embed_dim", e.overrides.get("code_dim"))
        for e in plan.experiments
    }
    assert sizes == {m: 256 for m in sizes} | {"devise": None}  # DeViSE maps into word space
    validate(plan.experiments)
    (k_sweep,) = make_plan("fig5", get_dataset("toy")).sweeps
    assert k_sweep.base["max_violation"] is False and k_sweep.values == list(range(6))
    assert {k: v for k, v in k_sweep.base.items() if k != "k"} == {
        k: v for k, v in pvse["pvse K=3"].items() if k != "k"
    }  # so the sweep's points are the table's runs
    (ablations,) = make_plan("fig6", get_dataset("toy")).sweeps
    assert ablations.values == [1, 3] and len(ablations.variants) == 4
    options = paper_options(get_dataset("toy"), RunOptions(runs_dir="x"))
    assert (options.dataset, options.epochs, options.runs_dir) == (
        "toy",
        12,
        "x",
    )  # harness toy defaults
    assert options.standardize_features is True and options.backbone == "colour-edges"


def test_a_sweep_reuses_the_table_run_of_equal_settings(tmp_path: Path) -> None:
    from mrw.bench.experiments import run_experiments

    fake = FakeRunner()
    options = RunOptions(dataset="toy", runs_dir=str(tmp_path), epochs=1)
    table = make_plan("toy", get_dataset("toy")).experiments
    k3 = [e for e in table if e.name == "pvse K=3"]
    run_experiments(k3, options, [0], runner=fake, log=lambda _: None)
    (sweep,) = make_plan("fig5", get_dataset("toy")).sweeps
    points = [e for _, value, e in sweep.experiments() if value in (3, 4)]
    (reused, _) = run_experiments(points, options, [0], runner=fake, log=lambda _: None)
    assert [call[1]["k"] for call in fake.calls] == [3, 4]  # K=3 trained once, for the table
    assert reused.records[0].run_dir.name.startswith("pvse-k=3-s0-")


@pytest.mark.parametrize("target", ["fig5", "fig6", "fig7"])
def test_figure_plans_are_valid_configs(target: str) -> None:
    plan = make_plan(target, get_dataset("mrw"))
    validate(plan.all_experiments())  # every point is a config PVSE accepts
    counts = {"fig5": 9, "fig6": 4 * 8, "fig7": 4 + 4}
    assert len(plan.all_experiments()) == counts[target]


def test_dry_run_prints_plan_and_estimate_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRunner()
    monkeypatch.setattr(runner_module, "run_method", fake)
    assert bench_main(["reproduce", "table3", "--dry-run", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "table3 on tgif: T=8, paper K=3, batch 128" in out
    assert "7 runs; rough GPU time" in out and "total: about" in out
    assert re.search(r"\n  pvse K=3 +pvse +lr 0\.0002 ", out)
    assert re.search(r"\n  order +order +lr 0\.001 ", out)
    assert fake.calls == [] and not any(tmp_path.iterdir())


def test_wrong_dataset_for_a_table_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["reproduce", "table4", "--dataset", "tgif", "--dry-run"]) == 2
    assert capsys.readouterr().err.startswith("error: table4 is the mrw table")


def test_execute_writes_table_and_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRunner()
    monkeypatch.setattr(runner_module, "run_method", fake)
    options = paper_options(get_dataset("mrw"), RunOptions(runs_dir=str(tmp_path / "runs")))
    written = execute(
        make_plan("table4", get_dataset("mrw")),
        options,
        [0, 1],
        tmp_path / "out",
        log=lambda _: None,
    )
    assert len(fake.calls) == 7 * 2
    table = written[0].read_text()
    # rows carry the plan's labels, which say what ran
    assert "| pvse K=1 | 2 |" in table and "| dual\\_path | 2 |" in table
    assert "**Paired tests**" in table and "| pvse K=5 | pvse K=1 |" in table
    written = execute(
        make_plan("fig7", get_dataset("mrw")), options, [0], tmp_path / "out", log=lambda _: None
    )
    assert sorted(p.name for p in written if p.suffix == ".png") == [
        "sweep-div_weight.png",
        "sweep-mmd_weight.png",
    ]
