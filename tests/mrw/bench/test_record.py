"""The typed, versioned run record (`metrics.json`): migration of today's files, the MTEB-shaped
view of the metrics and the dataset revision (issues 10.5 and 13.10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leaderboard.metrics import Bound
from mrw.bench.record import (
    FORMAT_VERSION,
    RunRecord,
    RunRecordError,
    dataset_revision,
    mteb_scores,
)


def _direction(r1: float, medr: int | str = 3) -> dict:
    return {"R@1": r1, "R@5": 50.0, "R@10": 75.0, "MedR": medr, "MeanR": 6.5, "nMR": 0.03,
            "queries": 100, "missing_queries": 0}  # fmt: skip


# A metrics.json as `mrw-bench run` wrote it before records carried a format_version.
VERSION_1 = {
    "method": "vsepp",
    "dataset": "toy",
    "split": "test",
    "metrics": {"t2v": _direction(25.0), "v2t": _direction(20.0), "rsum": 295.0},
    "config": {"options": {"seed": 3}, "method_config": {"margin": 0.2}},
    "seed": 3,
    "device": "cpu",
    "world_size": 1,
    "best_epoch": 4,
    "best_validation_rsum": 280.5,
    "wall_time_s": 12.5,
    "versions": {"python": "3.11.7", "torch": "2.4.0", "mrw-toolkit": "0.1.0"},
    "git_commit": "abc123",
}


def test_version_1_file_is_read_and_rewritten_in_the_current_format(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps(VERSION_1))
    record = RunRecord.from_disk(run_dir)
    assert record.run_dir == run_dir and record.format_version == FORMAT_VERSION
    assert record.metrics.t2v.recall[1] == 25.0 and record.metrics.rsum == 295.0
    assert record.best_epoch == 4 and record.dataset_revision is None

    record.to_disk(run_dir)
    written = json.loads((run_dir / "metrics.json").read_text())
    assert written["format_version"] == FORMAT_VERSION
    assert written["metrics"] == VERSION_1["metrics"]  # the scorer's document, unchanged
    assert RunRecord.from_disk(run_dir / "metrics.json") == record  # round trip


def test_metrics_json_reads_the_mteb_way(tmp_path: Path) -> None:
    record = RunRecord.from_json(VERSION_1)
    written = json.loads(record.to_disk(tmp_path / "metrics.json").read_text())
    (scores,) = written["scores"]["test"]  # scores[split] is a list of subsets, as in MTEB
    assert scores["main_score"] == pytest.approx(295.0 / 600)
    assert scores["t2v_success_at_1"] == pytest.approx(0.25)  # recalls as fractions
    assert scores["v2t_success_at_10"] == pytest.approx(0.75)
    assert scores["t2v_medr"] == 3 and scores["hf_subset"] == "default"
    definitions = written["metric_definitions"]
    assert "Success@k" in definitions["R@k"] and "hit rate" in definitions["R@k"]
    assert "rsum / 600" in definitions["main_score"]


def test_censored_values_are_none_in_the_mteb_view() -> None:
    document = {**VERSION_1["metrics"], "t2v": _direction(25.0, "> 5"), "rsum": ">= 295"}
    record = RunRecord.from_json({**VERSION_1, "metrics": document})
    assert record.metrics.t2v.medr == Bound(5, ">")
    scores = mteb_scores(record.metrics)
    assert scores["t2v_medr"] is None and scores["main_score"] is None
    assert set(scores["censored"]) == {"t2v_medr", "main_score", "rsum"}


def test_unreadable_or_newer_records_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({**VERSION_1, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(RunRecordError, match="newer than this toolkit reads"):
        RunRecord.from_disk(tmp_path)
    path.write_text(json.dumps({**VERSION_1, "metrics": {"t2v": {}}}))
    with pytest.raises(RunRecordError, match="not a valid run record"):
        RunRecord.from_disk(tmp_path)
    path.write_text("[1, 2]")
    with pytest.raises(RunRecordError, match="not a JSON object"):
        RunRecord.from_disk(tmp_path)


def test_dataset_revision_fingerprints_card_and_data_files(tmp_path: Path) -> None:
    folder = tmp_path / "toy-v2"
    assert dataset_revision("toy", "2", folder) is None
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("card")
    (folder / "data" / "test-00000-of-00001.parquet").write_bytes(b"x" * 10)
    first = dataset_revision("toy", "2", folder)
    assert first is not None and first["revision"] == "2" and first["name"] == "toy"
    (folder / "data" / "test-00000-of-00001.parquet").write_bytes(b"x" * 11)
    assert dataset_revision("toy", "2", folder)["fingerprint"] != first["fingerprint"]


def test_older_records_get_the_training_data_of_what_every_run_then_was() -> None:
    features = {"backbone": "resnet152", "weights": "IMAGENET1K_V1"}
    old = {**VERSION_1, "config": {**VERSION_1["config"], "features": features}}
    record = RunRecord.from_json({**old, "format_version": 2})
    assert record.training_data == (
        "trained on toy train; frame features: resnet152 IMAGENET1K_V1 pretrained "
        "(unknown overlap with the test media)"
    )
    assert record.pretrained_weights == []
    learning_free = {"backbone": "colour-edges", "weights": "none"}
    plain = {**VERSION_1, "config": {**VERSION_1["config"], "features": learning_free}}
    assert RunRecord.from_json(plain).training_data == "trained on toy train"


def test_version_2_file_has_no_set_aware_summary_and_version_3_round_trips(tmp_path) -> None:
    from mrw.bench.record import SetAwareSummary

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps({**VERSION_1, "format_version": 2}))
    record = RunRecord.from_disk(run_dir)
    assert record.set_aware is None and record.format_version == FORMAT_VERSION
    record.set_aware = SetAwareSummary(
        k={"video": 2, "text": 2}, reduction="max",
        head_usage={"video": {"counts": [3, 1]}, "text": {"counts": [2, 2]}},
        margin={"mean": 0.1, "median": 0.05}, head_cosine={"video": None, "text": None},
        reductions={"lse": {"rsum": 120.0}}, lse_temperature=0.1,
    )  # fmt: skip
    record.to_disk(run_dir)
    assert json.loads((run_dir / "metrics.json").read_text())["set_aware"]["k"]["video"] == 2
    assert RunRecord.from_disk(run_dir) == record
    (run_dir / "metrics.json").write_text(
        json.dumps({**VERSION_1, "format_version": 3, "set_aware": {"k": 2}})
    )
    with pytest.raises(RunRecordError, match="not a valid run record"):
        RunRecord.from_disk(run_dir)  # a summary without its fields
