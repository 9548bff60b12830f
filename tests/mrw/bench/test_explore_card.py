"""The explorer page shows a run's protocol card, and refuses a diff across two cards."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path

import pytest

from mrw.bench.explore import NO_CARD, ExploreError, build_page
from mrw.bench.record import RunRecord
from mrw.bench.runner import run_method
from mrw.testing import bench_synthetic  # noqa: F401  (registers the tiny test method)
from mrw.testing.bench_synthetic import synthetic_options

METHOD = "tiny-test-method"


def test_the_page_shows_the_card_and_a_diff_across_cards_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    options = synthetic_options(tmp_path / "cache", tmp_path / "runs", epochs=1)
    full = run_method(METHOD, {}, options).run_dir
    shallow = run_method(
        METHOD, {}, dataclasses.replace(options, run_depth=59, run_id="d59")
    ).run_dir
    text, page = build_page(full, None)
    card = RunRecord.from_disk(full).protocol_card
    assert ("protocol card", card.summary()) in page.facts
    assert html.escape(card.summary()) in text
    with pytest.raises(ExploreError, match=r"--against: .*depth \(None vs 59\)"):
        build_page(full, shallow)
    # a record written before cards says so
    record = RunRecord.from_disk(full)
    record.protocol_card = None
    record.to_disk(full)
    assert ("protocol card", NO_CARD) in build_page(Path(full), None)[1].facts
