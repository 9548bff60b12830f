"""Censored values (bounds from truncated runs) are typed and never marked best (issue 13.1)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from leaderboard.board import add_submission, list_submissions
from leaderboard.metrics import (
    Bound,
    Metrics,
    MetricsFormatError,
    best_indices,
    pessimistic_key,
    ranks_to_metrics,
)
from leaderboard.render import build_tables, render


def test_bound_is_a_type_that_round_trips_through_the_json_form() -> None:
    metrics = ranks_to_metrics(np.array([1, 0, 0, 3]), gallery_size=100, depth=5)
    assert metrics.medr == Bound(5, ">") and metrics.nmr == Bound(0.05, ">")
    assert metrics.recall[10] == Bound(50.0, ">=")
    document = metrics.to_json()
    assert document["MedR"] == "> 5" and document["R@10"] == ">= 50"  # the documented form
    t2v = ranks_to_metrics(np.array([1, 2]), gallery_size=4)
    both = Metrics(t2v, metrics, Bound(300.0, ">="))
    assert Metrics.from_json(json.loads(json.dumps(both.to_json()))) == both
    assert not both.exact and Metrics(t2v, t2v, 300.0).exact
    with pytest.raises(MetricsFormatError, match="not a metric value"):
        Metrics.from_json({**both.to_json(), "rsum": "about 300"})


def test_metrics_to_disk_is_versioned(tmp_path: Path) -> None:
    t2v = ranks_to_metrics(np.array([1, 2, 7]), gallery_size=10)
    metrics = Metrics(t2v, t2v, 100.0)
    path = metrics.to_disk(tmp_path / "m.json")
    assert json.loads(path.read_text())["format_version"] == 1
    assert Metrics.from_disk(path) == metrics
    path.write_text(json.dumps({"format_version": 99, **metrics.to_json()}))
    with pytest.raises(MetricsFormatError, match="format_version 99"):
        Metrics.from_disk(path)


@pytest.mark.parametrize(
    ("values", "better", "best"),
    [
        ([Bound(3, ">"), 59, 84], "min", {1}),  # the case: "> 3" is not best, 59 is
        ([Bound(100, ">"), 59, 84], "min", {1}),  # certainly worse: still 59
        ([Bound(50.0, ">="), 40.0, 30.0], "max", {0}),  # certainly above every known value
        ([Bound(50.0, ">="), Bound(55.0, ">="), 40.0], "max", set()),  # no value provably best
        ([Bound(50.0, ">="), 70.0, 40.0], "max", {1}),
        ([Bound(20.0, "<="), 10.0, 15.0], "max", {2}),  # an upper bound on a max metric
        ([4, 4, None], "min", {0, 1}),  # ties are all best; a missing value is ignored
    ],
)
def test_best_is_never_a_bound_it_cannot_prove(values, better, best) -> None:
    assert best_indices(values, better) == best


def test_censored_sorts_after_every_known_value_it_cannot_beat() -> None:
    medr = [Bound(3, ">"), 84, 59, Bound(1, ">")]
    ordered = sorted(medr, key=lambda v: -pessimistic_key(v, "min"))
    assert ordered[:2] == [59, 84] and all(isinstance(v, Bound) for v in ordered[2:])
    recalls = [Bound(50.0, ">="), 50.0, 49.0, 70.0]
    ordered = sorted(recalls, key=lambda v: -pessimistic_key(v, "max"))
    assert ordered == [70.0, 50.0, Bound(50.0, ">="), 49.0]
    assert math.isnan(pessimistic_key(None, "max"))


def _direction(medr: int | str, r1: float) -> dict:
    return {"R@1": r1, "R@5": r1, "R@10": r1, "MedR": medr, "MeanR": 9.0, "nMR": 0.5,
            "queries": 100, "missing_queries": 0}  # fmt: skip


def test_markdown_and_page_do_not_mark_the_censored_medr_best(tmp_path: Path) -> None:
    board = tmp_path / "board.db"
    rows = [("truncated", "> 3", 30.0), ("known59", 59, 20.0), ("known84", 84, 10.0)]
    for i, (name, medr, r1) in enumerate(rows):
        document = {"t2v": _direction(medr, r1), "v2t": _direction(7, r1), "rsum": 6 * r1}
        add_submission(
            board, name=name, team="t", dataset="mrw", split="test",
            metrics=Metrics.from_json(document), t2v_sha256=str(i), v2t_sha256="v",
            truth_sha256="truth",
        )  # fmt: skip
    (table,) = build_tables(list_submissions(board))
    assert [s.name for s in table.rows] == ["truncated", "known59", "known84"]  # by rsum
    medr_column = 6  # Method, Team, Date, t2v R@1, R@5, R@10, t2v MedR
    assert table.best[medr_column] == {1}  # known59, not the "> 3" run

    pages = render(board, tmp_path / "site")
    markdown = pages["leaderboard.md"].read_text()
    truncated = next(line for line in markdown.splitlines() if "| truncated |" in line)
    known59 = next(line for line in markdown.splitlines() if "| known59 |" in line)
    assert "| \\> 3 |" in truncated and "**\\> 3**" not in truncated  # `>` escaped: literal
    assert "**59**" in known59
    assert "never highlighted as best" in markdown  # the page says why
    page = pages["index.html"].read_text()
    cell = page[page.index('title="censored') - 40 : page.index("&gt; 3</td>")]
    assert "censored" in cell and "best" not in cell.split("title=")[0]
    saved = json.loads(pages["leaderboard.json"].read_text())
    assert saved["boards"][0]["submissions"][0]["metrics"]["t2v"]["MedR"] == "> 3"
