"""Run-file validation: every bad input stops with a `RunFileError` naming the right line."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaderboard import parse
from leaderboard.errors import RunFileError
from leaderboard.parse import parse_run
from leaderboard.qrels import Qrels

QUERIES = ("q1", "q2", "q3")
DOCS = ("d1", "d2", "d3", "d10")
QRELS = Qrels(QUERIES, DOCS, np.array([0, 1, 2, 2]), np.array([0, 1, 2, 3]), "t2v.qrels")
GOOD = [b"q1 Q0 d1 1 0.5 t", b"q1 Q0 d2 2 0.25 t", b"q2 Q0 d2 1 1e-3 t"]


def _parse(tmp_path: Path, data: bytes, **kwargs: int) -> parse.Run:
    path = tmp_path / "run.txt"
    path.write_bytes(data)
    return parse_run(path, QRELS, **kwargs)


def _error(tmp_path: Path, data: bytes, **kwargs: int) -> RunFileError:
    with pytest.raises(RunFileError) as info:
        _parse(tmp_path, data, **kwargs)
    assert f"line {info.value.line}:" in str(info.value) and "\n" not in str(info.value)
    return info.value


def test_valid_run_maps_ids_to_qrels_indices(tmp_path: Path) -> None:
    run = _parse(tmp_path, b"\n".join(GOOD) + b"\n")
    assert run.query.tolist() == [0, 0, 1] and run.doc.tolist() == [0, 1, 1]
    assert (
        run.score.dtype == np.float32
        and run.score.tolist() == np.float32([0.5, 0.25, 1e-3]).tolist()
    )


def test_whitespace_variants_parse_identically(tmp_path: Path) -> None:
    messy = b"\xef\xbb\xbf q1\tQ0  d1 1 0.5 t \r\nq1 Q0 d2\t2 0.25\tt\r\n  q2 Q0 d2 1 1e-3 t"
    run = _parse(tmp_path, messy)
    assert run.query.tolist() == [0, 0, 1]
    assert run.score.tolist() == np.float32([0.5, 0.25, 1e-3]).tolist()


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        (b"q1 Q0 d3 1 0.5", "expected 6 columns"),
        (b"q1 Q0 d3 1 0.5 t extra", "expected 6 columns"),
        (b"", "empty line"),
        (b"q1 Q0 d3  1 0.5", "expected 6 columns"),  # not read as score "1" with an empty field
        (b"q1 Q0 d3 1 abc t", "score 'abc' is not a number"),
        (b"q1 Q0 d3 1 nan t", "not a finite number"),
        (b"q1 Q0 d3 1 -inf t", "not a finite number"),
        (b"qX Q0 d3 1 0.5 t", "unknown query id 'qX'"),
        (b"q1 Q0 dX 1 0.5 t", "unknown document id 'dX'"),
        (b"q1 Q0 d1 9 0.1 t", "pair (q1, d1) already ranked on line 1"),
        (b"q1 Q0 d\x00 1 0.5 t", "binary data"),
    ],
)
def test_bad_line_is_reported_with_its_number(
    tmp_path: Path, bad_line: bytes, message: str
) -> None:
    error = _error(tmp_path, b"\n".join([*GOOD, bad_line, GOOD[0]]) + b"\n")
    assert error.line == 4
    assert message in error.reason


def test_only_the_files_own_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    """One mark at the start is the editor's; a second one is part of the first id (as
    trec_eval reads it), refused on line 1, not silently dropped."""
    bom = b"\xef\xbb\xbf"
    assert len(_parse(tmp_path, bom + b"\n".join(GOOD))) == 3
    error = _error(tmp_path, bom + bom + b"\n".join(GOOD))
    assert error.line == 1 and "byte-order mark" in error.reason


def test_line_numbers_survive_chunk_boundaries(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(parse, "CHUNK_BYTES", 37)
    lines = [f"q3 Q0 {d} {r} {r} t".encode() for r, d in enumerate(DOCS)] * 1
    lines += [f"q{q} Q0 d1 1 {q} t".encode() for q in (1, 2)] + [b"q2 Q0 d1 1 1 t"]
    error = _error(tmp_path, b"\n".join(lines))
    assert error.line == 7 and "already ranked on line 6" in error.reason
    lines[5] = b"q2 Q0 d1 1 x t"
    assert _error(tmp_path, b"\n".join(lines)).line == 6


def test_empty_file_and_unreadable_file(tmp_path: Path) -> None:
    assert "empty" in _error(tmp_path, b"").reason
    with pytest.raises(RunFileError, match="cannot read"):
        parse_run(tmp_path / "absent.run", QRELS)


def test_gzip_is_detected_by_content(tmp_path: Path) -> None:
    run = _parse(tmp_path, gzip.compress(b"\n".join(GOOD)))
    assert len(run) == 3


def test_gzip_bomb_stops_at_the_size_limit(tmp_path: Path) -> None:
    bomb = gzip.compress(b"q1 Q0 d1 1 0.5 t\n" * (4 << 20), compresslevel=9)  # 71 MB inflated
    assert len(bomb) < 1 << 20
    error = _error(tmp_path, bomb, max_bytes=1 << 20)
    assert "size limit" in error.reason


def test_truncated_gzip_is_an_error_with_a_line(tmp_path: Path) -> None:
    data = gzip.compress(b"\n".join(GOOD * 1000))
    error = _error(tmp_path, data[: len(data) // 2])
    assert "corrupt gzip" in error.reason and error.line >= 1


def test_binary_garbage_without_newlines(tmp_path: Path) -> None:
    error = _error(tmp_path, bytes(b for b in range(1, 256) if b != 10) * 400)
    assert error.line == 1 and "longer than" in error.reason


# --- property-based: the only exception is RunFileError, at the line a reference finds ---

TOKENS = st.sampled_from(
    [b"q1", b"q2", b"q3", b"qX", b"d1", b"d2", b"d3", b"d10", b"Q0", b"0.5", b"-1", b"1e3",
     b"nan", b"inf", b"abc", b"+2", b".5", b"\xff\xfe", b"7"]
)  # fmt: skip
SEPARATORS = st.sampled_from([b" ", b" ", b" ", b"\t", b"  ", b" \x0b"])


@st.composite
def near_valid_lines(draw: st.DrawFn) -> bytes:
    def line() -> bytes:
        n = draw(st.sampled_from([6, 6, 6, 6, 5, 7, 0]))
        tokens = [
            draw(st.sampled_from([b"q1", b"q2", b"q3", b"qX"])),
            b"Q0",
            draw(st.sampled_from([b"d1", b"d2", b"d3", b"d10", b"dX"])),
            b"1",
            draw(st.sampled_from([b"0.5", b"-1", b"1e3", b"+2", b".5", b"nan", b"inf", b"abc"])),
            b"run",
        ]
        if n != 6:
            tokens = draw(st.lists(TOKENS, min_size=n, max_size=n))
        out = b""
        for token in tokens:
            out += token + draw(SEPARATORS)
        return out.rstrip(b" ") if draw(st.booleans()) else out

    lines = [line() for _ in range(draw(st.integers(0, 12)))]
    return draw(st.sampled_from([b"\n", b"\r\n"])).join(lines) + draw(st.sampled_from([b"", b"\n"]))


def _reference_first_bad_line(data: bytes) -> int | None:
    """A plain, line-by-line reading of the same rules (slow, obviously right)."""
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    if not lines:
        return 1
    seen: set[tuple[bytes, bytes]] = set()
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if len(fields) != 6 or fields[0] not in {q.encode() for q in QUERIES}:
            return number
        if fields[2] not in {d.encode() for d in DOCS} or (fields[0], fields[2]) in seen:
            return number
        try:
            if not np.isfinite(float(fields[4])):
                return number
        except ValueError:
            return number
        seen.add((fields[0], fields[2]))
    return None


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=near_valid_lines(), chunk=st.sampled_from([16, 64, 1 << 20]))
def test_near_valid_runs_fail_exactly_where_a_reference_says(
    tmp_path: Path, monkeypatch, data: bytes, chunk: int
) -> None:
    monkeypatch.setattr(parse, "CHUNK_BYTES", chunk)
    expected = _reference_first_bad_line(data)
    if expected is None:
        run = _parse(tmp_path, data)
        assert len(run) == len(data.strip(b"\r\n").split(b"\n"))
    else:
        assert _error(tmp_path, data).line == expected


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300) | near_valid_lines().map(lambda b: b[:-3] + b"\x00\xff\x1f"))
def test_arbitrary_bytes_raise_only_run_file_errors(tmp_path: Path, data: bytes) -> None:
    try:
        _parse(tmp_path, data)
    except RunFileError as error:
        assert error.line >= 1


@pytest.mark.parametrize("bitmap", [True, False])
def test_a_repeated_pair_stops_parsing_in_its_block(tmp_path: Path, monkeypatch, bitmap) -> None:
    """A file of one repeated line is refused after its first block, not after reading it all."""
    if not bitmap:
        monkeypatch.setattr("leaderboard.qrels.BITMAP_MAX_KEYS", 0)
    monkeypatch.setattr(parse, "CHUNK_BYTES", 64)
    blocks: list[int] = []
    path = tmp_path / "bomb.run.gz"
    path.write_bytes(gzip.compress(b"q1 Q0 d1 1 0.5 t\n" * 10_000))
    with pytest.raises(RunFileError) as info:
        parse_run(path, QRELS, progress=blocks.append)
    assert info.value.line == 2 and "already ranked on line 1" in info.value.reason
    assert sum(blocks) <= 4  # the first 64-byte block holds 3 lines, then it stops


@pytest.mark.parametrize("bitmap", [True, False])
def test_repeats_across_blocks_name_the_first_repeat(tmp_path: Path, monkeypatch, bitmap) -> None:
    if not bitmap:
        monkeypatch.setattr("leaderboard.qrels.BITMAP_MAX_KEYS", 0)
    monkeypatch.setattr(parse, "CHUNK_BYTES", 40)
    every_pair = [f"{q} Q0 {d} 1 0.5 t".encode() for q in QUERIES for d in DOCS]
    error = _error(tmp_path, b"\n".join(every_pair + every_pair[3:5]) + b"\n")
    assert error.line == 13 and "already ranked on line 4" in error.reason
    if bitmap:  # caught in the block where it appears; more lines than pairs: caught by count
        blocks: list[int] = []
        path = tmp_path / "twice.run"
        path.write_bytes(b"\n".join(every_pair * 2) + b"\n")
        with pytest.raises(RunFileError, match="line 13: pair"):
            parse_run(path, QRELS, progress=blocks.append)
        assert sum(blocks) < 24
