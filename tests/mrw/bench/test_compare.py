"""`mrw-bench compare` on synthetic run records: grouping by settings, mean ± std over seeds."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mrw.bench.cli import main as bench_main
from mrw.bench.compare import compare_runs
from mrw.testing.run_records import write_metrics_json


def _direction(r1: float, r5: float, r10: float, medr: int, gallery: int = 100) -> dict[str, Any]:
    return {
        "R@1": r1,
        "R@5": r5,
        "R@10": r10,
        "MedR": medr,
        "MeanR": medr + 1.0,
        "nMR": medr / gallery,
        "queries": gallery,
        "missing_queries": 0,
    }


def write_run(
    root: Path,
    method: str,
    seed: int,
    r1: float,
    method_config: dict[str, Any] | None = None,
    epochs: int = 12,
    finished: bool = True,
) -> Path:
    """A run record as the harness writes it (only the fields compare reads are realistic)."""
    run_dir = root / "toy" / method / f"run-{method}-{seed}-{r1}"
    run_dir.mkdir(parents=True)
    config = {
        "method": method,
        "method_config": method_config or {},
        "options": {"dataset": "toy", "seed": seed, "epochs": epochs, "run_id": run_dir.name},
        "train": {"seed": seed, "epochs": epochs},
    }
    (run_dir / "config.json").write_text(json.dumps(config))
    if finished:
        t2v, v2t = _direction(r1, 2 * r1, 3 * r1, 10 + seed), _direction(r1 + 1, r1 + 2, r1 + 3, 8)
        metrics = {"t2v": t2v, "v2t": v2t, "rsum": r1 + 2 * r1 + 3 * r1 + 3 * r1 + 6}
        write_metrics_json(run_dir, config, metrics, seed=seed)
    return run_dir


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    for seed, r1 in enumerate((10.0, 20.0, 30.0)):  # mean 20, sample std 10
        write_run(tmp_path, "vsepp", seed, r1)
    write_run(tmp_path, "pvse", 0, 40.0, {"k": 1, "margin": 0.1})
    write_run(tmp_path, "pvse", 0, 5.0, {"k": 5, "margin": 0.1})
    write_run(tmp_path, "vsepp", 3, 99.0, epochs=30)  # a different experiment, not a 4th seed
    write_run(tmp_path, "devise", 0, 1.0, finished=False)
    return tmp_path


def test_groups_seeds_and_computes_mean_and_sample_std(runs: Path) -> None:
    comparison = compare_runs([runs])
    rows = {g.label: g for g in comparison.groups}
    assert set(rows) == {"pvse (k=1)", "pvse", "vsepp [epochs=12]", "vsepp [epochs=30]"}
    three = rows["vsepp [epochs=12]"]
    assert three.seeds == [0, 1, 2]
    r1 = three.stats["t2v"]["R@1"]
    assert r1.mean == pytest.approx(20.0) and r1.std == pytest.approx(10.0)
    medr = three.stats["t2v"]["MedR"]  # 10, 11, 12
    assert medr.mean == pytest.approx(11.0) and medr.std == pytest.approx(1.0)
    rsum = three.stats["rsum"]  # 9 * r1 + 6 -> 96, 186, 276
    assert rsum.mean == pytest.approx(186.0) and rsum.std == pytest.approx(90.0)
    assert rows["pvse (k=1)"].stats["rsum"].std is None  # one seed: no spread to report
    assert [str(p.name) for p in comparison.unfinished] == ["run-devise-0-1.0"]
    # best rsum first
    assert comparison.groups[0].label == "vsepp [epochs=30]"


def test_markdown_has_paper_columns_and_mean_pm_std(runs: Path) -> None:
    text = compare_runs([runs]).to_markdown()
    # One direction order everywhere (issue 13.9): text-to-video first, as on the leaderboard.
    assert text.index("Text → Video R@1") < text.index("Video → Text R@1")
    assert "MedR (nMR)" in text
    row = next(line for line in text.splitlines() if line.startswith("| vsepp \\[epochs=12"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "3"  # seeds
    assert cells[2] == "20.00 ± 10.00"  # text-to-video R@1
    assert cells[5] == "11.0 ± 1.0 (0.11)"  # text-to-video MedR (nMR)
    assert "1 unfinished run(s)" in text
    # 100 videos and 100 sentences: R@1+R@5+R@10 of a random ranking is 16% per direction.
    assert "Random ranking: rsum ≈ 32.0." in text


def test_cli_writes_json_and_markdown(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json, out_md = tmp_path / "cmp.json", tmp_path / "cmp.md"
    assert (
        bench_main(
            ["compare", str(runs / "toy"), "--json", str(out_json), "--markdown", str(out_md)]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert printed == out_md.read_text()
    data = json.loads(out_json.read_text())
    (table,) = data["tables"]
    assert (table["dataset"], table["split"], table["chance_rsum"]) == ("toy", "test", 32.0)
    by_label = {row["label"]: row for row in table["rows"]}
    assert by_label["pvse (k=1)"]["method_config"] == {"k": 1, "margin": 0.1}
    assert by_label["vsepp [epochs=12]"]["v2t"]["R@1"] == {"mean": 21.0, "std": 10.0}


def test_cli_one_line_error_without_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_main(["compare", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no finished run records") and err.count("\n") == 1
    assert bench_main(["compare", str(tmp_path / "missing")]) == 2


def test_cli_refuses_to_overwrite_what_it_did_not_write(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = next((runs / "toy").rglob("metrics.json"))
    before = metrics.read_bytes()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link.md"
    link.symlink_to(metrics)
    for option in ("--markdown", "--json"):
        for target in (metrics, fifo, link):
            assert bench_main(["compare", str(runs / "toy"), option, str(target)]) == 2
            err = capsys.readouterr().err
            assert err.startswith("error: ") and err.count("\n") == 1
    assert metrics.read_bytes() == before and link.is_symlink()
    out_md, out_json = tmp_path / "cmp.md", tmp_path / "cmp.json"
    for _ in range(2):  # an earlier output of compare is replaced
        args = ["compare", str(runs / "toy"), "--markdown", str(out_md), "--json", str(out_json)]
        assert bench_main(args) == 0


@pytest.mark.parametrize(
    "mangle",
    [
        lambda text: text.replace('"queries": 100', '"queries": 1' + "0" * 4000, 1),
        lambda text: text.replace('"rsum": ', '"rsum": NaN, "x": ', 1),
        lambda text: text.replace('"rsum": ', '"rsum": 1e999, "x": ', 1),
        lambda text: text.replace(
            '"device": ', '"deep": ' + "[" * 100_000 + "]" * 100_000 + ', "device": ', 1
        ),
    ],
)
def test_cli_hostile_numbers_and_nesting_are_not_a_valid_run_record(
    runs: Path, mangle, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = next((runs / "toy").rglob("metrics.json"))
    text = metrics.read_text()
    changed = mangle(text)
    assert changed != text
    metrics.write_text(changed)
    assert bench_main(["compare", str(runs / "toy")]) == 2
    err = capsys.readouterr().err
    assert "not a valid run record" in err and err.count("\n") == 1


def test_markdown_escapes_labels(tmp_path: Path) -> None:
    write_run(tmp_path, "a|b<i>", 0, 10.0)
    write_run(tmp_path, "vsepp", 0, 20.0)
    text = compare_runs([tmp_path]).to_markdown()
    row = next(line for line in text.splitlines() if line.startswith("| a"))
    assert row.startswith("| a\\|b\\<i\\> | 1 |")  # as the leaderboard escapes names


def test_compare_heading_names_the_dataset_not_its_path(tmp_path: Path) -> None:
    import json

    from mrw.bench.compare import compare_runs

    direction = {"R@1": 10.0, "R@5": 20.0, "R@10": 30.0, "MedR": 9, "MeanR": 12.0, "nMR": 0.09,
                 "queries": 100, "missing_queries": 0}  # fmt: skip
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    config = {"method": "vsepp", "options": {"seed": 0}}
    (run_dir / "config.json").write_text(json.dumps(config))
    metrics = {"t2v": direction, "v2t": direction, "rsum": 120.0}
    write_metrics_json(run_dir, config, metrics, dataset=str(tmp_path / "demo-out" / "toy"))
    markdown = compare_runs([tmp_path / "runs"]).to_markdown()
    assert markdown.startswith("**toy / test**")  # as the leaderboard names it
    assert str(tmp_path) not in markdown


def test_training_data_is_the_last_column_and_in_json(runs: Path) -> None:
    run_dir = runs / "toy" / "clip-zeroshot" / "zs"
    run_dir.mkdir(parents=True)
    config = {"method": "clip-zeroshot", "method_config": {}, "options": {"dataset": "toy"}}
    (run_dir / "config.json").write_text(json.dumps(config))
    declared = "zero-shot; CLIP ViT-B-32/laion2b_s34b_b79k web-scale pretraining (unknown overlap)"
    metrics = {"t2v": _direction(5.0, 9.0, 12.0, 30), "v2t": _direction(5.0, 9.0, 12.0, 30)}
    write_metrics_json(
        run_dir, config, {**metrics, "rsum": 52.0}, format_version=3, training_data=declared
    )
    comparison = compare_runs([runs])
    lines = comparison.to_markdown().splitlines()
    header = next(line for line in lines if line.startswith("| Method | Seeds |"))
    assert header.rstrip(" |").endswith("Training data")
    cells = {
        line.split("|")[1].strip(): line.strip(" |").split("|")[-1].strip()
        for line in lines
        if line.startswith("| ") and not line.startswith("| Method")
    }
    assert cells["clip-zeroshot"] == declared.replace("_", "\\_")  # Markdown-escaped
    assert cells["pvse (k=1)"] == "trained on toy train"  # a migrated record
    rows = {row["label"]: row for row in comparison.to_json()["tables"][0]["rows"]}
    assert rows["clip-zeroshot"]["training_data"] == declared


def _tuning_point(root: Path, lr: float, patience: int | None) -> Path:
    """A finished grid point of `mrw-bench tune`, named as `tune_row` names it."""
    from mrw.bench.experiments import Experiment, run_id
    from mrw.bench.options import RunOptions
    from mrw.bench.tune import trial_label

    experiment = Experiment("vsepp", {}, trial_label("vsepp", lr, {}), {"split": "validation"})
    options = RunOptions(dataset="toy", lr=lr, patience=patience, split="validation")
    rid = run_id(experiment, experiment.run_options(options), 0)
    run_dir = root / "toy" / "vsepp" / rid
    run_dir.mkdir(parents=True)
    settings = {"dataset": "toy", "split": "validation", "epochs": 12, "lr": lr}
    settings["patience"] = patience
    config = {"method": "vsepp", "method_config": {}, "options": {**settings, "run_id": rid}}
    (run_dir / "config.json").write_text(json.dumps(config))
    metrics = {"t2v": _direction(5.0, 9.0, 12.0, 30), "v2t": _direction(5.0, 9.0, 12.0, 30)}
    record = {"split": "validation", "best_epoch": 1, "epochs_run": 1}
    write_metrics_json(run_dir, config, {**metrics, "rsum": 52.0}, **record)
    return run_dir


def test_tuning_runs_are_left_out_unless_asked_for(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    points = [_tuning_point(runs, lr, 3) for lr in (1e-3, 5e-3)]
    comparison = compare_runs([runs])
    assert {g.split for g in comparison.groups} == {"test"}  # no validation table
    assert sorted(comparison.tuning_trials) == sorted(points)
    assert "2 tuning run(s) of mrw-bench tune left out" in comparison.to_markdown()
    out = tmp_path / "cmp.json"
    assert bench_main(["compare", str(runs), "--json", str(out)]) == 0
    assert len(json.loads(out.read_text())["tuning_runs_left_out"]) == 2
    capsys.readouterr()
    assert bench_main(["compare", str(runs / "toy" / "vsepp"), "--include-tuning"]) == 0
    shown = capsys.readouterr().out
    assert "**toy / validation**" in shown and "lr=0.001" in shown and "lr=0.005" in shown
    # only tuning runs there: one line saying where they went
    assert bench_main(["compare", str(points[0])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--include-tuning" in err and err.count("\n") == 1


def test_a_label_never_says_none(tmp_path: Path) -> None:
    _tuning_point(tmp_path, 1e-3, 3)
    _tuning_point(tmp_path, 1e-3, None)  # no early stopping: the same point otherwise
    labels = [g.label for g in compare_runs([tmp_path], include_tuning=True).groups]
    assert sorted(labels) == ["vsepp [no patience]", "vsepp [patience=3]"]


def _with_copy(run_dir: Path, fingerprint: str, card: dict[str, Any]) -> None:
    """Give a written record a protocol card and the prepared copy it used."""
    record = json.loads((run_dir / "metrics.json").read_text())
    record["protocol_card"] = card
    record["dataset_revision"] = {"name": "toy", "revision": "4", "fingerprint": fingerprint}
    (run_dir / "metrics.json").write_text(json.dumps(record))


def test_one_card_over_two_prepared_copies_is_warned_under_its_table(
    tmp_path: Path, capsys
) -> None:
    from mrw.core.protocol import ProtocolCard, card_document

    card = card_document(ProtocolCard(dataset="toy", revision="4", truth_sha256="a" * 64))
    old = write_run(tmp_path, "vsepp", 0, 10.0)
    new = [write_run(tmp_path, "vsepp", seed, 20.0) for seed in (1, 2)]
    _with_copy(old, "0" * 64, card)
    for run_dir in new:
        _with_copy(run_dir, "f" * 64, card)
    (table,) = compare_runs([tmp_path]).to_json()["tables"]
    (note,) = table["dataset_copy_notes"]
    assert "2 different prepared copies" in note
    assert f"{'0' * 12}: {old}" in note and f"{'f' * 12}: {new[0]}, {new[1]}" in note
    assert [len(row["runs"]) for row in table["rows"]] == [3]  # still one averaged row

    assert bench_main(["compare", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    warning = next(line for line in out.splitlines() if line.startswith("**Warning:**"))
    assert out.index("Random ranking") < out.index(warning) and "2 different" in warning

    _with_copy(old, "f" * 64, card)  # one copy: no warning
    assert compare_runs([tmp_path]).to_json()["tables"][0]["dataset_copy_notes"] == []
    assert bench_main(["compare", str(tmp_path)]) == 0
    assert "Warning" not in capsys.readouterr().out
