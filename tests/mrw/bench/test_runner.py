"""`run_method` end to end on synthetic cached features: training, run records, resume."""

from __future__ import annotations

import dataclasses
import gzip
import json

import pytest
import torch

from mrw.bench.record import RunRecord, RunRecordError
from mrw.bench.runner import run_method
from mrw.core.errors import MRWError
from mrw.testing import bench_synthetic  # noqa: F401  (registers the tiny test method)
from mrw.testing.bench_synthetic import SIZES, TinyMethod, synthetic_options

METHOD = "tiny-test-method"


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_run_trains_and_writes_a_complete_record(env) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=4, lr=1e-2)
    result = run_method(METHOD, {"embed_dim": 24}, options)

    names = {p.name for p in result.run_dir.iterdir()}
    assert {
        "config.json",
        "metrics.json",
        "t2v.run.gz",
        "v2t.run.gz",
        "checkpoint.pt",
        "log.jsonl",
        "per_query.parquet",
        "protocol.json",
    } <= names
    assert (
        result.run_dir.parent.name == METHOD and result.run_dir.parent.parent.parent == env / "runs"
    )
    record = json.loads((result.run_dir / "metrics.json").read_text())
    assert set(record["metrics"]) == {"t2v", "v2t", "rsum"} and record["split"] == "test"
    assert record["format_version"] == 4
    assert record["protocol_card"]["card"]["protocol"] == "full-split"
    assert record["set_aware"]["head_usage"]["video"]["counts"] == [60]  # K = 1: one head
    assert record["scores"]["test"][0]["main_score"] == pytest.approx(
        record["metrics"]["rsum"] / 600
    )
    assert record["config"]["method_config"] == {"embed_dim": 24, "margin": 0.2}
    assert {"python", "torch", "mrw-toolkit"} <= set(record["versions"])
    assert record["seed"] == 0 and record["wall_time_s"] > 0 and record["device"] == "cpu"

    history = [json.loads(line) for line in (result.run_dir / "log.jsonl").read_text().splitlines()]
    val = [h["validation_rsum"] for h in history if "epoch" in h]
    assert len(val) == 4 and max(val[1:]) > val[0]
    chance = 2 * 100 * (1 + 5 + 10) / SIZES["test"]
    assert result.metrics.rsum > 2.5 * chance

    with gzip.open(result.run_dir / "t2v.run.gz", "rt") as handle:
        lines = handle.read().splitlines()
    assert len(lines) == SIZES["test"] * SIZES["test"]  # full depth: every video per sentence
    assert RunRecord.from_disk(result.run_dir).metrics == result.metrics


def test_run_depth_truncates_run_files(env) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=1, run_depth=7)
    result = run_method(METHOD, {}, options)
    with gzip.open(result.run_dir / "v2t.run.gz", "rt") as handle:
        lines = handle.read().splitlines()
    assert len(lines) == SIZES["test"] * 7
    assert {line.split()[5] for line in lines} == {METHOD}  # the tag is the method
    record = json.loads((result.run_dir / "metrics.json").read_text())
    assert record["run_files"]["v2t"]["depth"] == record["run_files"]["t2v"]["depth"] == 7
    assert record["metrics"] == result.metrics.to_json()
    assert not result.metrics.exact  # R@10 > depth 7: a bound, honestly
    exact = RunRecord.from_disk(result.run_dir).exact_metrics
    assert exact is not None and exact.exact
    for direction in ("t2v", "v2t"):
        for k in (1, 5):
            assert (
                result.metrics.direction(direction).recall[k]
                == exact.direction(direction).recall[k]
            )


def test_learning_rate_is_the_methods_own_unless_set(env, monkeypatch) -> None:
    monkeypatch.setattr(TinyMethod, "default_lr", 3e-3)
    for lr, expected in ((None, 3e-3), (1e-4, 1e-4)):
        result = run_method(
            METHOD,
            {},
            synthetic_options(env / "cache", env / "runs", epochs=1, lr=lr, run_id=f"lr-{lr}"),
        )
        config = json.loads((result.run_dir / "config.json").read_text())
        first_epoch = json.loads((result.run_dir / "log.jsonl").read_text().splitlines()[0])
        assert config["options"]["lr"] == config["train"]["lr"] == first_epoch["lr"] == expected


def test_resume_continues_exactly(env) -> None:
    straight = run_method(
        METHOD, {}, synthetic_options(env / "cache", env / "runs", epochs=3, lr=5e-3, run_id="a")
    )
    options = synthetic_options(env / "cache", env / "runs", epochs=1, lr=5e-3, run_id="b")
    first = run_method(METHOD, {}, options)
    (first.run_dir / "metrics.json").unlink()  # as if killed after epoch 1
    resumed = run_method(METHOD, {}, dataclasses.replace(options, epochs=3, resume="last"))
    assert resumed.run_dir == first.run_dir
    a = torch.load(straight.run_dir / "checkpoint.pt", weights_only=False)
    b = torch.load(resumed.run_dir / "checkpoint.pt", weights_only=False)
    assert a["epoch"] == b["epoch"] == 3
    for name, tensor in a["model"].items():
        torch.testing.assert_close(tensor, b["model"][name], rtol=0, atol=0)
    assert resumed.metrics == straight.metrics


def test_resume_refuses_a_different_experiment(env) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=1, run_id="c")
    first = run_method(METHOD, {}, options)
    with pytest.raises(RunRecordError, match=r"different settings \(options.lr, train.lr\)"):
        run_method(METHOD, {}, dataclasses.replace(options, lr=1.0, resume=str(first.run_dir)))
    with pytest.raises(RunRecordError, match="already holds a run"):
        run_method(METHOD, {}, options)


def test_bad_options_fail_before_any_work(env) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=1)
    with pytest.raises(MRWError, match="no option"):
        run_method(METHOD, {"k": 3}, options)
    with pytest.raises(MRWError, match="--split"):
        run_method(METHOD, {}, dataclasses.replace(options, split="train"))
    with pytest.raises(MRWError, match="unknown method"):
        run_method("no-such-method", {}, options)
    with pytest.raises(RunRecordError, match="no unfinished run"):
        run_method(METHOD, {}, dataclasses.replace(options, resume="last"))


def test_load_run_record_rejects_unfinished_and_foreign_folders(tmp_path) -> None:
    with pytest.raises(RunRecordError, match="not a run record"):
        RunRecord.from_disk(tmp_path)
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    with pytest.raises(RunRecordError, match="unfinished"):
        RunRecord.from_disk(tmp_path)
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(RunRecordError, match="not a valid run record"):
        RunRecord.from_disk(tmp_path)


def test_resuming_a_finished_run_adds_no_second_evaluation(env) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=1, run_id="done")
    first = run_method(METHOD, {}, options)
    log = first.run_dir / "log.jsonl"

    def evaluations() -> int:
        return sum("evaluation" in json.loads(line) for line in log.read_text().splitlines())

    before = (log.read_bytes(), (first.run_dir / "metrics.json").read_bytes())
    again = run_method(METHOD, {}, dataclasses.replace(options, resume=str(first.run_dir)))
    assert again.metrics == first.metrics and evaluations() == 1
    assert (log.read_bytes(), (first.run_dir / "metrics.json").read_bytes()) == before
    (first.run_dir / "metrics.json").unlink()  # killed after logging the evaluation
    resumed = run_method(METHOD, {}, dataclasses.replace(options, resume=str(first.run_dir)))
    assert resumed.metrics == first.metrics and evaluations() == 1
