"""Run-file writer and qrels reader/writer: formats, trec_eval order, streaming, atomicity."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from leaderboard.errors import QrelsError
from leaderboard.qrels import read_qrels, write_qrels
from leaderboard.runfile import write_run


def _lines(path: Path) -> list[list[str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as handle:
        return [line.split() for line in handle]


def test_write_run_orders_like_trec_eval_with_ties(tmp_path: Path) -> None:
    scores = np.array([[0.5, 0.9, 0.5, 0.1], [1.0, 1.0, 1.0, 1.0]], dtype=np.float32)
    path = tmp_path / "t2v.run"
    assert write_run(path, ["q1", "q2"], ["d1", "d2", "d10", "d3"], scores, "m") == 8
    rows = _lines(path)
    assert [r[2] for r in rows[:4]] == ["d2", "d10", "d1", "d3"]  # tie at 0.5: "d10" > "d1"
    assert [r[2] for r in rows[4:]] == ["d3", "d2", "d10", "d1"]  # all tied: docid descending
    assert [r[3] for r in rows[:4]] == ["1", "2", "3", "4"]
    assert {r[1] for r in rows} == {"Q0"} and {r[5] for r in rows} == {"m"}
    assert [np.float32(r[4]) for r in rows[:4]] == [np.float32(v) for v in (0.9, 0.5, 0.5, 0.1)]


def test_write_run_streams_blocks_gzip_and_depth(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((7, 9)).astype(np.float32)
    qids, docids = [f"q{i}" for i in range(7)], [f"d{i}" for i in range(9)]
    whole, blocks = tmp_path / "whole.run", tmp_path / "blocks.run.gz"
    write_run(whole, qids, docids, scores, "x", depth=4)
    write_run(blocks, qids, docids, (scores[i : i + 3] for i in range(0, 7, 3)), "x", depth=4)
    with gzip.open(blocks) as handle:
        assert handle.read() == whole.read_bytes()
    rows = _lines(whole)
    assert len(rows) == 28
    first = [r for r in rows if r[0] == "q0"]
    expected = [docids[i] for i in np.argsort(-scores[0])[:4]]
    assert [r[2] for r in first] == expected
    # float32 scores round-trip exactly through their shortest text form
    assert all(np.float32(r[4]) == scores[0, int(r[2][1:])] for r in first)


def test_write_run_rejects_bad_input_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.run"
    with pytest.raises(ValueError, match="expected 2"):
        write_run(path, ["a", "b"], ["x", "y"], np.zeros((1, 2)), "t")
    with pytest.raises(ValueError, match="whitespace"):
        write_run(path, ["a b"], ["x"], np.zeros((1, 1)), "t")
    with pytest.raises(ValueError, match="NaN"):
        write_run(path, ["a"], ["x"], np.full((1, 1), np.nan), "t")
    assert list(tmp_path.iterdir()) == []


def test_qrels_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t2v.qrels"
    assert write_qrels(path, [("s1", "v1"), ("s2", "v1"), ("s3", "v2", 1), ("s3", "v9", 0)]) == 4
    assert path.read_text().splitlines()[0] == "s1 0 v1 1"
    qrels = read_qrels(path)
    assert qrels.query_ids == ("s1", "s2", "s3")
    assert qrels.doc_ids == ("v1", "v2", "v9") and qrels.gallery_size == 3
    assert list(zip(qrels.rel_query, qrels.rel_doc, strict=True)) == [(0, 0), (1, 0), (2, 1)]


def test_qrels_byte_order_mark_is_not_part_of_the_first_id(tmp_path: Path) -> None:
    path = tmp_path / "t2v.qrels"
    path.write_bytes(b"\xef\xbb\xbfs1 0 v1 1\ns2 0 v2 1\n")
    assert read_qrels(path).query_ids == ("s1", "s2")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a 0 x 1\nb 0 y\n", 2, "expected 4 columns"),
        ("a 0 x 1\na 0 x 1\n", 2, "judged twice"),
        ("a 0 x one\n", 1, "integer"),
        ("a 0 x 1\nb 0 y 9223372036854775808\n", 2, "at most 18 digits"),  # beyond int64
        ("a 0 x 1_0\n", 1, "integer"),  # Python's int() reads 10, C's atol 1
        ("a 0 x 1.0\n", 1, "integer"),
        ("a 0 x 0\n", 1, "no relevant"),
    ],
)
def test_read_qrels_errors_name_the_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "bad.qrels"
    path.write_text(text)
    with pytest.raises(QrelsError, match=message) as info:
        read_qrels(path)
    assert info.value.line == line and f"line {line}:" in str(info.value)


def test_write_run_accepts_a_transposed_torch_tensor(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    scores = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    qids, docids = [f"v{i}" for i in range(8)], [f"s{i}" for i in range(5)]
    write_run(tmp_path / "torch.run", qids, docids, scores.T, "t")
    write_run(tmp_path / "numpy.run", qids, docids, scores.T.numpy().copy(), "t")
    assert (tmp_path / "torch.run").read_bytes() == (tmp_path / "numpy.run").read_bytes()


def test_scores_are_written_at_the_scorers_precision(tmp_path: Path) -> None:
    """float64 scores one float32 apart are one score to trec_eval (a C float), so they are
    written as one, and the rank column puts the tie in trec_eval's order (larger id first)."""
    path = tmp_path / "t2v.run"
    write_run(path, ["q"], ["a", "b"], np.array([[0.30000001, 0.3]]), "t")
    assert path.read_text().splitlines() == ["q Q0 b 1 0.3 t", "q Q0 a 2 0.3 t"]
    with pytest.raises(ValueError, match="float32's range"):
        write_run(path, ["q"], ["a", "b"], np.array([[1e39, 0.3]]), "t")
