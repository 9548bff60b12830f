"""A harness run's protocol card: built from options, catalogue and what was evaluated; in the
run record (format 4) and the `protocol.json` sidecar; compare tables runs by card."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from leaderboard.board import truth_fingerprint
from mrw.bench.compare import compare_runs, paired_test
from mrw.bench.options import RunOptions
from mrw.bench.protocol_cards import fold_card, planned_cards, run_card, truth_sha256
from mrw.bench.record import RunRecord, RunRecordError
from mrw.bench.runner import run_method
from mrw.catalog import get_dataset
from mrw.core.protocol import (
    CARD_FILE,
    ProtocolCardError,
    card_document,
    read_card_file,
    sidecar_card,
)
from mrw.dataset import export_qrels
from mrw.testing import bench_synthetic  # noqa: F401  (registers the tiny test method)
from mrw.testing.bench_synthetic import synthetic_options
from mrw.testing.run_records import write_metrics_json

METHOD = "tiny-test-method"


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_a_toy_run_card_has_the_truth_fingerprint_of_its_exported_qrels(
    env: Path, toy_dataset_dir: Path
) -> None:
    options = RunOptions(
        dataset=str(toy_dataset_dir), epochs=1, runs_dir=str(env / "runs"), progress=False
    )
    result = run_method(METHOD, {}, options)
    card = result.record.protocol_card
    export_qrels(toy_dataset_dir, "test", env / "qrels")  # what `mrw qrels` writes
    assert card.truth_sha256 == truth_fingerprint(env / "qrels")
    # A folder built as the toy set is the toy set, named so on every machine.
    assert (card.dataset, card.revision, card.split) == ("toy", "4", "test")
    assert card.protocol == "full-split" and card.depth is None
    assert card.features == "colour-edges/none" and card.postprocess == "none"
    # the sidecar beside the run files holds the same card as the record
    assert read_card_file(result.run_dir / CARD_FILE) == card
    assert sidecar_card(result.run_dir / "t2v.run.gz", result.run_dir / "v2t.run.gz") == card
    assert RunRecord.from_disk(result.run_dir).protocol_card == card


def test_the_card_names_the_protocol_the_options_and_catalogue_give() -> None:
    sentences = ["s1", "s2", "s3", "s4"]
    videos = ["v1", "v1", "v2", "v2"]
    common = dict(
        split="test",
        sentence_ids=sentences,
        sentence_videos=videos,
        video_count=2,
        features={"backbone": "resnet152", "weights": "IMAGENET1K_V1"},
        features_sha256=None,
    )
    full = {"t2v": {"depth": 2}, "v2t": {"depth": 4}}
    paper = run_card(dataset="tgif", one_sentence_per_video=True, run_files=full, **common)
    every = run_card(dataset="tgif", one_sentence_per_video=False, run_files=full, **common)
    assert (paper.protocol, every.protocol) == ("tgif-paper", "tgif-all-sentences")
    assert "last sentence" in paper.queries and "every test sentence" in every.queries
    assert paper.differing_fields(every) == ["protocol", "queries", "gallery"]
    assert every.depth is None and every.features == "resnet152/IMAGENET1K_V1"
    shallow = run_card(
        dataset="tgif",
        one_sentence_per_video=False,
        run_files={"t2v": {"depth": 2}, "v2t": {"depth": 3}},
        **common,
    )
    assert shallow.depth == 3  # v2t is truncated (3 of 4 sentences)
    coco = run_card(dataset="coco", one_sentence_per_video=False, run_files=full, **common)
    assert coco.protocol == "coco-5k" and "image" in coco.gallery
    folds = fold_card(coco, 5, 1000)
    assert folds.protocol == "coco-1k-x5" and folds.depth is None
    assert folds.truth_sha256 == coco.truth_sha256
    assert get_dataset("coco").protocols.names == ("coco-1k-x5", "coco-5k")
    assert get_dataset("tgif").protocols.names == ("tgif-paper", "tgif-all-sentences")
    # the truth of a one-sentence subset is another truth
    assert truth_sha256(sentences, videos) != truth_sha256(["s2", "s4"], ["v1", "v2"])


def test_planned_cards_of_the_paper_tables() -> None:
    coco = planned_cards(RunOptions(dataset="coco").resolved())
    assert [c.protocol for c in coco] == ["coco-5k", "coco-1k-x5"]
    tgif = RunOptions(dataset="tgif", one_sentence_per_video=True).resolved()
    (card,) = planned_cards(tgif)
    assert (card.protocol, card.depth, card.truth_sha256) == ("tgif-paper", 500, None)
    (full,) = planned_cards(dataclasses.replace(tgif, run_depth=0))
    assert full.depth is None


def test_compare_splits_runs_that_differ_only_in_depth(env: Path) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=1)
    deep = run_method(METHOD, {}, options)
    shallow = run_method(METHOD, {}, dataclasses.replace(options, run_depth=59, run_id="d59"))
    # the depth is no experiment setting: without cards these two were one row of two runs
    assert deep.record.protocol_card.differing_fields(shallow.record.protocol_card) == ["depth"]
    comparison = compare_runs([env / "runs"])
    assert len(comparison.tables()) == 2
    text = comparison.to_markdown()
    assert text.count("Protocol card: ") == 2
    assert "full depth" in text and "depth 59" in text
    assert text.count("Not comparable with another table here: differs from card") == 2
    assert "in: depth." in text
    document = comparison.to_json()
    cards = [t["protocol_card"]["card"]["depth"] for t in document["tables"]]
    assert sorted(cards, key=str) == [59, None]
    assert all(t["card_notes"] == [t["card_notes"][0]] for t in document["tables"])
    # a paired test across the two cards is refused, naming the field
    first, second = comparison.groups
    with pytest.raises(ProtocolCardError, match=r"depth \(None vs 59\)|depth \(59 vs None\)"):
        paired_test(first, second)
    comparison.add_tests()  # the default tests stay within each table: none crosses cards
    assert comparison.tests == []


def test_runs_without_a_card_form_their_own_table(env: Path) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=1)
    carded = run_method(METHOD, {}, options)
    old = env / "runs" / "old-run"
    old.mkdir()
    record = json.loads((carded.run_dir / "metrics.json").read_text())
    (old / "config.json").write_text(json.dumps(record["config"]))
    write_metrics_json(old, record["config"], record["metrics"], dataset=record["dataset"])
    comparison = compare_runs([env / "runs"])
    assert sorted(g.card is None for g in comparison.groups) == [False, True]
    text = comparison.to_markdown()
    assert "Protocol card: none (run records written before protocol cards)." in text
    assert "not ranked with the table of runs without a protocol card" in text


def test_record_format_3_reads_without_a_card_and_a_tampered_card_is_refused(env: Path) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=1)
    run_dir = run_method(METHOD, {}, options).run_dir
    document = json.loads((run_dir / "metrics.json").read_text())
    assert document["format_version"] == 4
    old = {k: v for k, v in document.items() if k != "protocol_card"}
    (run_dir / "metrics.json").write_text(json.dumps({**old, "format_version": 3}))
    assert RunRecord.from_disk(run_dir).protocol_card is None
    card = document["protocol_card"]
    tampered = {**card, "card": {**card["card"], "depth": 7}}
    (run_dir / "metrics.json").write_text(json.dumps({**document, "protocol_card": tampered}))
    with pytest.raises(RunRecordError, match="card_hash does not match"):
        RunRecord.from_disk(run_dir)
    assert card_document(read_card_file(run_dir / CARD_FILE)) == card
