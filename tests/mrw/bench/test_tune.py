"""`mrw-bench tune`: one protocol for every row, early stopping, the test split unread, and
stored tunings used by `run` (tiny synthetic features: seconds)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from mrw.bench import features as features_module
from mrw.bench import trainer as trainer_module
from mrw.bench.cli import main as bench_main
from mrw.bench.experiments import Experiment
from mrw.bench.record import RunRecord
from mrw.bench.runner import run_method
from mrw.bench.tune import FIELD_GRIDS, grid_points, tune_row
from mrw.bench.tuning import load_tuning, plot_tuning, tuned, write_tuning
from mrw.testing import bench_synthetic  # noqa: F401  (registers the tiny test method)
from mrw.testing.bench_synthetic import synthetic_flags, synthetic_options

METHOD = "tiny-test-method"


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture()
def test_split_unreadable(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Feature extraction refuses the test split; returns the splits asked for."""
    real = features_module.extract_features
    asked: list[str] = []

    def guarded(spec, *args, **kwargs):
        asked.append(spec.split)
        if spec.split == "test":
            raise AssertionError("the test split was read during tuning")
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(features_module, "extract_features", guarded)
    return asked


def test_early_stopping_ends_after_patience_epochs_without_a_better_rsum(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = iter([10.0, 30.0, 20.0, 25.0, 29.0, 40.0, 50.0])  # best at epoch 2, then 3 worse

    def scripted(*args, **kwargs):
        rsum = next(script)
        return SimpleNamespace(metrics=SimpleNamespace(rsum=rsum, to_json=lambda: {}))

    monkeypatch.setattr(trainer_module, "evaluate", scripted)
    options = synthetic_options(env / "cache", env / "runs", epochs=7, patience=3, lr=1e-2)
    result = run_method(METHOD, {}, options)
    record = result.record
    assert (record.best_epoch, record.epochs_run, record.best_validation_rsum) == (2, 5, 30.0)
    # without patience the same budget runs out: every epoch trained
    script = iter([10.0, 30.0, 20.0])
    monkeypatch.setattr(trainer_module, "evaluate", scripted)
    plain = dataclasses.replace(options, epochs=3, patience=None, run_id="plain")
    assert run_method(METHOD, {}, plain).record.epochs_run == 3


def test_tune_chooses_by_validation_only_and_records_grid_and_curves(
    env: Path, test_split_unreadable: list[str]
) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=4, patience=2)
    row = Experiment(METHOD, {"embed_dim": 8}, "tiny")
    grid = (1e-4, 3e-2, 1e-1)
    entry = tune_row(row, options, grid, log=lambda _: None)
    assert "test" not in test_split_unreadable and "validation" in test_split_unreadable
    assert entry["grid"] == {"lr": list(grid)} and entry["epochs"] == 4 and entry["patience"] == 2
    points = entry["points"]
    assert [p["lr"] for p in points] == list(grid)
    for point in points:
        record = RunRecord.from_disk(point["run_dir"])
        assert record.split == "validation"  # evaluated on validation, never on test
        assert len(point["curve"]) == point["epochs_run"] <= 4
        assert max(point["curve"]) == point["best_validation_rsum"]
        assert point["curve"].index(point["best_validation_rsum"]) + 1 == point["best_epoch"]
    # the rule: the highest best-epoch validation rsum, ties to the earlier grid point
    best = max(p["best_validation_rsum"] for p in points)
    first_best = next(p for p in points if p["best_validation_rsum"] == best)
    assert entry["choice"] == {"lr": first_best["lr"], "fields": {}}


def test_method_knobs_join_the_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FIELD_GRIDS, METHOD, {"margin": (0.1, 0.2)})
    assert grid_points(METHOD, (1e-3, 1e-2)) == [
        (1e-3, {"margin": 0.1}),
        (1e-3, {"margin": 0.2}),
        (1e-2, {"margin": 0.1}),
        (1e-2, {"margin": 0.2}),
    ]
    assert grid_points("pvse", (1e-3,)) == [(1e-3, {})]


def test_run_trains_with_the_stored_tuning(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=3, patience=2)
    entry = tune_row(Experiment(METHOD, {}, "tiny"), options, (1e-3, 3e-2), log=lambda _: None)
    path = write_tuning(env / "tuning.json", options.dataset, [entry])
    tuning = load_tuning(path)
    assert plot_tuning(tuning, env / "curves.png").read_bytes()[:4] == b"\x89PNG"
    overrides, own = tuned(tuning, METHOD, {}, dataclasses.replace(options, epochs=None), "t")
    assert overrides == {} and own["lr"] == entry["choice"]["lr"]
    assert (own["epochs"], own["patience"]) == (3, 2)
    args = ["run", METHOD, *synthetic_flags(options), "--runs-dir", str(env / "final")]
    assert bench_main([*args, "--tuning", str(path), "--seed", "1"]) == 0
    (config_path,) = (env / "final").rglob("config.json")
    config = json.loads(config_path.read_text())
    assert config["options"]["lr"] == config["train"]["lr"] == entry["choice"]["lr"]
    assert config["train"]["patience"] == 2 and config["train"]["epochs"] == 3
    recorded = config["options"]["tuning"]
    assert recorded["grid"] == {"lr": [1e-3, 3e-2]} and recorded["choice"] == entry["choice"]
    assert [p["curve"] for p in recorded["points"]] == [p["curve"] for p in entry["points"]]
    # contradicting the tuning, or a row it does not hold, is a one-line error
    capsys.readouterr()
    assert bench_main([*args, "--tuning", str(path), "--lr", "0.1"]) == 2
    assert "--lr and --tuning" in capsys.readouterr().err
    assert bench_main([*args, "--tuning", str(path), "--embed-dim", "4"]) == 2
    assert "no entry for" in capsys.readouterr().err
    (env / "bad.json").write_text("{}")
    assert bench_main([*args, "--tuning", str(env / "bad.json")]) == 2
    assert "not a tuning file" in capsys.readouterr().err


def test_write_tuning_replaces_a_rows_entry_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "tuning.json"

    def entry(key: str, v: int) -> dict:
        choice = {"lr": 1e-3, "fields": {}}
        return {"key": key, "label": key, "epochs": 2, "patience": 1, "choice": choice, "v": v}

    write_tuning(path, "toy", [entry("a", 1), entry("b", 1)])
    write_tuning(path, "toy", [entry("a", 2)])
    entries = load_tuning(path)["entries"]
    assert sorted((e["key"], e["v"]) for e in entries) == [("a", 2), ("b", 1)]
    with pytest.raises(Exception, match="tuning of toy, not toy-v3"):
        write_tuning(path, "toy-v3", [entry("c", 1)])


def test_where_the_tuning_file_lies_does_not_change_a_runs_identity() -> None:
    from mrw.bench.experiments import run_id
    from mrw.bench.options import RunOptions

    entry = {"grid": {"lr": [1e-3]}, "choice": {"lr": 1e-3, "fields": {}}}
    row = Experiment(METHOD, {}, "tiny")
    a = RunOptions(lr=1e-3, tuning={"file": "a/tuning.json", **entry})
    b = RunOptions(lr=1e-3, tuning={"file": "b/tuning.json", **entry})
    assert run_id(row, a, 0) == run_id(row, b, 0)
    other = RunOptions(lr=1e-3, tuning={"file": "a/tuning.json", **entry, "patience": 2})
    assert run_id(row, other, 0) != run_id(row, a, 0)
