"""Reference departures made explicit: the TGIF test protocol, the lr schedule, the plans."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mrw.bench.cli import main as bench_main
from mrw.bench.data import SplitFeatures, one_sentence_per_video
from mrw.bench.options import RunOptions
from mrw.bench.reproduce import make_plan, paper_options
from mrw.bench.runner import _schedule
from mrw.catalog import get_dataset
from mrw.core.errors import MRWError


def test_one_sentence_per_video_keeps_each_videos_last_pair() -> None:
    split = SplitFeatures(
        ["a", "b", "c"],
        torch.zeros(3, 2, 4),
        torch.tensor([2, 2, 1]),
        ["a#0", "a#1", "a#2", "b#0", "c#0", "c#1"],
        ["a0", "a1", "a2", "b0", "c0", "c1"],
        torch.tensor([0, 0, 0, 1, 2, 2]),
    )
    one = one_sentence_per_video(split)
    assert one.pair_ids == ["a#2", "b#0", "c#1"] and one.sentences == ["a2", "b0", "c1"]
    assert one.pair_video.tolist() == [0, 1, 2] and one.video_ids == split.video_ids


def test_lr_schedules() -> None:
    assert _schedule(RunOptions()) == {"lr_mode": "max", "lr_patience": 1}
    assert _schedule(RunOptions(lr_schedule="reference")) == {"lr_mode": "min", "lr_patience": 10}
    with pytest.raises(MRWError, match="lr_schedule must be"):
        _schedule(RunOptions(lr_schedule="cosine"))


def test_reference_schedule_halves_the_lr_only_after_ten_epochs_of_rising_rsum() -> None:
    params = [torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.Adam(params, lr=1.0)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=0.5, patience=10
    )
    for epoch in range(12):  # rsum rises every epoch: "no improvement" in mode min
        scheduler.step(100.0 + epoch)
    assert optimizer.param_groups[0]["lr"] == 0.5


def test_paper_plans_use_the_papers_loss_and_protocol() -> None:
    for table, name in (("table3", "tgif"), ("table4", "mrw")):
        plan = make_plan(table, get_dataset(name))
        pvse = [e for e in plan.experiments if e.method == "pvse"]
        assert pvse and all(e.overrides["max_violation"] is False for e in pvse)
        assert all(
            "max_violation" not in e.overrides for e in plan.experiments if e.method != "pvse"
        )
    tgif = paper_options(get_dataset("tgif"), RunOptions(one_sentence_per_video=True))
    mrw = paper_options(get_dataset("mrw"), RunOptions(one_sentence_per_video=True))
    assert tgif.one_sentence_per_video and not mrw.one_sentence_per_video  # 1:1 already


def test_dry_run_lists_every_departure(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["reproduce", "table3", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "departures from the paper and its reference code" in out
    for phrase in (
        "selected on test",
        "mode 'min'",
        "sums over negatives",
        "scale_weights_by_batch",
        "<start>/<end>",
        "colour jitter",
        "--legacy",
        "per-video prior",
        "one negative per anchor",
        "test protocol: paper: one sentence per test video",
        "skips 6 frames",
    ):
        assert phrase in out, phrase
    assert bench_main(["reproduce", "table3", "--dry-run", "--tgif-protocol", "all-sentences"]) == 0
    assert "test protocol: all-sentences" in capsys.readouterr().out
    assert bench_main(["reproduce", "table4", "--dry-run", "--lr-schedule", "reference"]) == 0
    out = capsys.readouterr().out
    assert "lr schedule: the reference's" in out and "test protocol" not in out
    assert bench_main(["reproduce", "toy", "--dry-run"]) == 0
    assert "departures" not in capsys.readouterr().out  # the toy table is the harness's own


def test_options_record_the_protocol_and_schedule() -> None:
    fields = {f.name for f in dataclasses.fields(RunOptions)}
    assert {"lr_schedule", "one_sentence_per_video", "standardize_features"} <= fields
