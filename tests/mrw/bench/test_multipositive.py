"""The harness's multi-positive metrics equal what the scorer computes from its run files and the
multi-positive qrels (which equal trec_eval's: tests/leaderboard/test_trec_eval_equality.py);
they are stored beside the one-positive metrics in the run record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from leaderboard.metrics import interval
from leaderboard.qrels import write_qrels
from leaderboard.score import score_submission
from mrw.bench.evaluator import evaluate_scores
from mrw.bench.multipositive import multi_positive_metrics
from mrw.bench.record import RunRecord
from mrw.bench.runfiles import run_file_metrics, write_run_pair
from mrw.dataset.qrels import multi_positive_pairs

N_VIDEOS = 20
# Planted near-duplicates; "x9" is a member from another split (not in this evaluation).
GROUP_OF = {"v00": "v00", "v01": "v00", "v07": "v07", "v08": "v07", "v09": "v07", "x9": "v07"}


def _evaluation(seed: int = 0):
    videos = [f"v{i:02d}" for i in range(N_VIDEOS)]
    pair_video = torch.tensor([*range(N_VIDEOS), 1, 8])  # v01 and v08 have two sentences
    sentences = [f"s{j:02d}" for j in range(pair_video.numel())]
    generator = torch.Generator().manual_seed(seed)
    scores = torch.rand(N_VIDEOS, len(sentences), generator=generator)
    scores[pair_video, torch.arange(len(sentences))] += 0.3  # some signal
    scores = torch.round(scores * 8) / 8  # a coarse grid: many ties
    return evaluate_scores(scores, videos, sentences, pair_video), pair_video


@pytest.mark.parametrize("depth", [0, 6])
def test_multi_positive_metrics_equal_the_scorer_on_the_run_files(
    tmp_path: Path, depth: int
) -> None:
    evaluation, pair_video = _evaluation()
    files = write_run_pair(
        tmp_path, "a-folder", evaluation.video_ids, evaluation.sentence_ids,
        evaluation.scores, "toy", asked_depth=depth,
    )  # fmt: skip
    depths = (files["t2v"].depth, files["v2t"].depth)
    multi = multi_positive_metrics(evaluation, pair_video, GROUP_OF, depths)
    assert multi is not None

    sentence_videos = [evaluation.video_ids[v] for v in pair_video.tolist()]
    pairs = multi_positive_pairs(evaluation.sentence_ids, sentence_videos, GROUP_OF)
    truth = tmp_path / "truth"
    for direction, judged in pairs.items():
        write_qrels(truth / f"{direction}.qrels", judged)
    scored = score_submission(truth, files["t2v"].path, files["v2t"].path)
    assert multi.to_json() == scored.to_json()

    # Look-alikes are no longer misses: never worse than one-positive, better here.
    one = run_file_metrics(
        evaluation.t2v_ranks, evaluation.v2t_ranks, N_VIDEOS, len(evaluation.sentence_ids),
        depths, (evaluation.t2v_relevant, evaluation.v2t_relevant),
    )  # fmt: skip
    for direction in ("t2v", "v2t"):
        for k in (1, 5, 10):
            mine = interval(multi.direction(direction).recall[k])[0]
            assert mine >= interval(one.direction(direction).recall[k])[0]
    assert interval(multi.rsum)[0] > interval(one.rsum)[0]


def test_no_groups_in_the_split_means_no_multi_positive_block() -> None:
    evaluation, pair_video = _evaluation()
    assert multi_positive_metrics(evaluation, pair_video, None) is None
    assert multi_positive_metrics(evaluation, pair_video, {}) is None
    elsewhere = {"v03": "x1", "x1": "x1", "v04": "x2", "x2": "x2"}  # partners in other splits
    assert multi_positive_metrics(evaluation, pair_video, elsewhere) is None


def test_run_record_keeps_the_block_beside_the_one_positive_metrics(tmp_path: Path) -> None:
    evaluation, pair_video = _evaluation()
    multi = multi_positive_metrics(evaluation, pair_video, GROUP_OF)
    record = RunRecord(
        method="vsepp", dataset="toy", split="test", metrics=evaluation.metrics, config={},
        seed=0, device="cpu", wall_time_s=1.0, versions={}, git_commit=None,
        metrics_multi_positive=multi,
    )  # fmt: skip
    record.to_disk(tmp_path)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["metrics_multi_positive"]["relevance"] == "multi-positive"
    assert written["metrics"] == evaluation.metrics.to_json()  # one-positive, as before
    assert RunRecord.from_disk(tmp_path) == record
    without = RunRecord.from_disk(tmp_path).to_json()
    without.pop("metrics_multi_positive")
    assert RunRecord.from_json(without).metrics_multi_positive is None


def test_matrix_ranks_of_every_relevant_pair_are_brute_force_ranks() -> None:
    evaluation, pair_video = _evaluation(seed=3)
    relevant = evaluation.v2t_relevant  # v01 and v08 have two sentences each
    assert relevant is not None and relevant.rank.size == pair_video.numel()
    scores = evaluation.scores.numpy()
    order = {s: i for i, s in enumerate(sorted(evaluation.sentence_ids, reverse=True))}
    for query, doc, rank in zip(
        relevant.query.tolist(), range(pair_video.numel()), relevant.rank.tolist(), strict=True
    ):
        row = scores[query]
        ahead = [
            j for j in range(row.size)
            if row[j] > row[doc]
            or (row[j] == row[doc] and order[evaluation.sentence_ids[j]]
                < order[evaluation.sentence_ids[doc]])
        ]  # fmt: skip
        assert rank == len(ahead) + 1
    assert np.array_equal(relevant.first(N_VIDEOS), evaluation.v2t_ranks)


def test_a_run_on_a_dataset_with_groups_records_what_the_scorer_reports(
    tmp_path: Path, monkeypatch
) -> None:
    from mrw.bench.runner import run_method
    from mrw.dataset.near_duplicates import write_near_duplicates
    from mrw.testing import bench_synthetic
    from mrw.testing.bench_synthetic import SIZES, make_split, synthetic_options

    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    options = synthetic_options(tmp_path / "cache", tmp_path / "runs", epochs=1)
    without = run_method(bench_synthetic.TinyMethod.name, {"embed_dim": 24}, options)
    assert without.record.metrics_multi_positive is None  # no groups recorded: no block

    folder = Path(options.dataset)  # the synthetic features' dataset, now with groups
    folder.mkdir(parents=True)
    group_of = {f"test-v{v:04d}": "test-v0000" for v in range(4)}
    group_of |= {"test-v0010": "test-v0010", "test-v0011": "test-v0010"}
    write_near_duplicates(folder, group_of)
    options = synthetic_options(tmp_path / "cache", tmp_path / "runs2", epochs=1)
    result = run_method(bench_synthetic.TinyMethod.name, {"embed_dim": 24}, options)
    written = json.loads((result.run_dir / "metrics.json").read_text())
    assert written["metrics_multi_positive"]["relevance"] == "multi-positive"
    assert written["metrics"] == without.record.metrics.to_json()  # one-positive unchanged

    split = make_split("test", SIZES["test"], seed=102)  # what the cache holds for test
    sentence_videos = [split.video_ids[v] for v in split.pair_video.tolist()]
    truth = tmp_path / "truth"
    for folder_name, groups in (("", None), ("multi-positive", group_of)):
        pairs = multi_positive_pairs(split.pair_ids, sentence_videos, groups)
        for direction, judged in pairs.items():
            write_qrels(truth / folder_name / f"{direction}.qrels", judged)
    scored = score_submission(truth / "multi-positive", *(
        result.run_dir / f"{d}.run.gz" for d in ("t2v", "v2t")
    ))  # fmt: skip
    assert result.record.metrics_multi_positive == scored
    # The block's card: the run's, but multi-positive and with the multi-positive truth.
    from leaderboard.board import truth_fingerprint

    card, multi_card = result.record.protocol_card, result.record.multi_positive_card
    assert card is not None and multi_card is not None
    assert card.differing_fields(multi_card) == ["truth_sha256", "relevance"]
    assert multi_card.truth_sha256 == truth_fingerprint(truth / "multi-positive")
    assert card.truth_sha256 == truth_fingerprint(truth)
    assert RunRecord.from_disk(result.run_dir).multi_positive_card == multi_card

    # compare prints the block as a table of its own, headed by its card.
    from mrw.bench.compare import compare_runs
    from mrw.bench.multipositive import multi_positive_markdown

    table = multi_positive_markdown(compare_runs([tmp_path / "runs2"]).groups)
    assert table.startswith("Multi-positive relevance") and multi_card.card_id in table
    row = table.strip().splitlines()[-1]
    assert row.endswith(f"| {scored.rsum:.1f} |")
    assert multi_positive_markdown(compare_runs([tmp_path / "runs"]).groups) == ""
