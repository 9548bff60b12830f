"""Parse and validate TREC run files against qrels: streaming, chunked, vectorised.

A 5M-line run is read in decompressed chunks of a few MB; each chunk is split into columns
by Arrow's CSV reader and its ids are mapped to the qrels' integer indices in bulk, so the
cost per line is a few machine operations and memory is bounded by the chunk size plus 12
bytes per line kept. Chunks written as the harness writes them (single spaces, "\n") take
that fast path; any other chunk is first normalised line by line in Python. Every problem
stops parsing with a `RunFileError` naming the first bad line; a chunk that Arrow rejects is
bisected to find that line exactly.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

# `pyarrow.compute` wraps each of its hundreds of kernels in Python on import (~0.1 s, a tenth
# of scoring a 5M-line file); the one kernel used here is called through the module that
# defines them.
from pyarrow._compute import SetLookupOptions, call_function

from leaderboard.errors import RunFileError
from leaderboard.limits import DEFAULT_MAX_BYTES
from leaderboard.qrels import Qrels

CHUNK_BYTES = 8 << 20
MAX_LINE_BYTES = 1 << 16
COLUMNS = ("qid", "q0", "docid", "rank", "score", "tag")
FORMAT = "'qid Q0 docid rank score tag'"
# Separators are ASCII whitespace, as for bytes.split(); lines end at "\n".
_BOM = b"\xef\xbb\xbf"
_SEPARATOR_TABLE = bytes.maketrans(b"\t\r\x0b\x0c", b"    ")

_PARSE = pacsv.ParseOptions(
    delimiter=" ", quote_char=False, escape_char=False, ignore_empty_lines=False
)
# Only the columns scoring needs are converted (a third less work per line); Arrow still
# checks that every line has all six.
_CONVERT = pacsv.ConvertOptions(
    column_types={"qid": pa.binary(), "docid": pa.binary(), "score": pa.float64()},
    include_columns=["qid", "docid", "score"],
    null_values=[],
    strings_can_be_null=False,
)
# Single-threaded: Arrow's reader threads could still be running when a bad line ends the
# command, and the interpreter's exit then aborted (SIGABRT) in 10-35% of runs. One Arrow
# block holds a whole block of lines, so each column is one chunk: read without a copy.
_READ = pacsv.ReadOptions(column_names=list(COLUMNS), block_size=1 << 24, use_threads=False)


@dataclass(frozen=True)
class Run:
    """A validated run: per line, the qrels indices of its query and document, and its score.

    Scores are float32, as trec_eval holds them (`TEXT_RESULTS.sim` is a C `float`, set from
    `atof`): texts that differ only beyond float32's precision are ties, and a finite text
    beyond its range (`1e39`) is infinite, exactly as trec_eval ranks them.
    """

    query: np.ndarray  # int32
    doc: np.ndarray  # int32
    score: np.ndarray  # float32
    path: str

    def __len__(self) -> int:
        return int(self.query.size)


def _show(token: bytes) -> str:
    text = token.decode("utf-8", "backslashreplace")
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _open(path: str) -> BinaryIO:
    """The file's decompressed byte stream; gzip is recognised by its magic bytes, not its name."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - returned to the caller, closed there
    except OSError as exc:
        raise RunFileError(path, 0, f"cannot read ({exc.strerror or exc})") from None
    if handle.read(2) == b"\x1f\x8b":
        handle.seek(0)
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


def first_line(path: str | os.PathLike[str]) -> bytes:
    """The first line of a run file (decompressed; empty if unreadable), e.g. to sniff ids."""
    try:
        with _open(os.fspath(path)) as stream:
            return stream.readline(MAX_LINE_BYTES).removeprefix(_BOM)
    except (RunFileError, OSError, EOFError, zlib.error):
        return b""


def _normalise(block: bytes) -> bytes:
    """Single spaces between fields, none at line ends, line count unchanged (careful path)."""
    lines = block.translate(_SEPARATOR_TABLE).split(b"\n")
    return b"\n".join(b" ".join(line.split()) for line in lines)


def _canonical_table(raw: memoryview, separators: _Separators) -> pa.Table | None:
    """Arrow's table of a block already in canonical form, else None (the fast path).

    Canonical: fields separated by single spaces, no empty field, no empty line, no byte-order
    mark, no byte below 0x20 but the newlines (so no tab, CR or NUL). The bytes are checked
    in one vectorised pass; a separator of any other kind shows up in the count of bytes
    <= 0x20, which must be 5 spaces per line and the newlines between lines, or as a column
    count Arrow rejects.
    """
    if not raw or raw[:3] == _BOM or not separators.single(raw):
        return None
    try:
        table = _read_table(raw)
    except pa.ArrowException:
        return None
    return table if separators.count == 6 * table.num_rows - 1 else None


class _Separators:
    """Counts the bytes <= 0x20 (space, newline and control bytes) of a block and finds two
    adjacent ones (an empty field or line) or one at its ends. Vectorised (a byte-pattern
    search is 6x slower), into buffers kept from block to block, so that a block costs no
    new pages."""

    def __init__(self) -> None:
        self.separator = np.empty(0, dtype=bool)
        self.pair = np.empty(0, dtype=bool)
        self.count = 0

    def single(self, raw: memoryview) -> bool:
        """Whether no two separators are adjacent and none starts or ends `raw` (sets
        `count`)."""
        size = len(raw)
        if self.separator.size < size:  # once: no block is longer than a chunk + a line
            capacity = max(size, MAX_LINE_BYTES + CHUNK_BYTES)
            self.separator, self.pair = np.empty(capacity, bool), np.empty(capacity, bool)
        separator, pair = self.separator[:size], self.pair[: max(size - 1, 0)]
        np.less_equal(np.frombuffer(raw, dtype=np.uint8), 0x20, out=separator)
        if separator[0] or separator[-1]:
            return False
        np.logical_and(separator[1:], separator[:-1], out=pair)
        if pair.any():
            return False
        self.count = int(np.count_nonzero(separator))
        return True


class _StreamError(Exception):
    """A problem found while reading, before lines are counted (`parse_run` adds the line)."""


def _line_blocks(path: str, max_bytes: int) -> Iterator[memoryview]:
    """Blocks of whole lines (without the final newline), in file order.

    Each block is a view of one reused buffer, valid until the next block is asked for: the
    unfinished line at a chunk's end is moved to the buffer's start and the next read fills
    the rest, so no block is copied.
    """
    buffer = bytearray(MAX_LINE_BYTES + CHUNK_BYTES)  # an unfinished line + one chunk
    view = memoryview(buffer)
    carry = 0  # bytes of an unfinished line at the start of the buffer (<= MAX_LINE_BYTES)
    total = 0
    first = True
    with _open(path) as stream:
        while True:
            try:
                size = stream.readinto(view[carry : carry + CHUNK_BYTES])
            except (OSError, EOFError, zlib.error) as exc:
                raise _StreamError(f"corrupt gzip data ({exc})") from None
            total += size
            if total > max_bytes:
                raise _StreamError(f"file exceeds the size limit of {max_bytes} bytes")
            end, start = carry + size, 0
            if first:
                start = len(_BOM) if buffer.startswith(_BOM, 0, end) else 0  # Windows editors
                first = False
            if not size:
                if end > start:
                    yield view[start:end]
                return
            cut = buffer.rfind(b"\n", start, end)
            if cut >= 0:
                yield view[start:cut]
                start = cut + 1
            carry = end - start
            if carry > MAX_LINE_BYTES:
                raise _StreamError(f"line longer than {MAX_LINE_BYTES} bytes")
            if start:
                buffer[:carry] = bytes(view[start:end])  # a copy: the two ranges may overlap


def _read_table(block: bytes | memoryview) -> pa.Table:
    return pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(block)),
        read_options=_READ,
        parse_options=_PARSE,
        convert_options=_CONVERT,
    )


def _first_rejected_line(lines: list[bytes]) -> int:
    """Index of the first line Arrow rejects: bisect on the longest accepted prefix."""
    good, bad = 0, len(lines)  # lines[:good] parse; lines[:bad] do not
    while bad - good > 1:
        middle = (good + bad) // 2
        try:
            _read_table(b"\n".join(lines[:middle]) + b"\n")
            good = middle
        except pa.ArrowException:
            bad = middle
    return bad - 1


def _describe_rejected(line: bytes) -> str:
    """Why Arrow rejected a line: ids are read as raw bytes, so only the column count or the
    score can be wrong."""
    if not line:
        return "empty line"
    fields = line.split(b" ")
    if len(fields) != len(COLUMNS):
        return f"expected 6 columns {FORMAT}, got {len(fields)}"
    return f"score {_show(fields[4])} is not a number"


@dataclass
class _IdTable:
    """Maps id bytes to qrels indices with one hash lookup per value, in Arrow."""

    options: SetLookupOptions

    @classmethod
    def of(cls, ids: tuple[str, ...]) -> _IdTable:
        # Built from buffers: `pa.array(list)` imports pandas to check its argument (~0.3 s).
        encoded = [i.encode("utf-8") for i in ids]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
        return cls(SetLookupOptions(pa.Array.from_buffers(pa.binary(), len(encoded), buffers)))

    def lookup(self, column: pa.ChunkedArray) -> pa.Array:
        """The index of each value in `ids`, null where absent (Arrow's `index_in`)."""
        return call_function("index_in", [column], self.options)


@dataclass(frozen=True)
class _Problem:
    row: int  # 0-based line index within its block
    reason: str


def _split_block(block: bytes) -> tuple[pa.Table | None, _Problem | None]:
    """Arrow's table of the lines before the block's first line-level problem, and that problem.

    Line-level problems are those Arrow cannot represent: NUL bytes, a stray byte-order mark,
    empty lines, a wrong column count, an unparsable score. Lines are only split apart in
    Python when there is a problem.
    """
    problem, prefix = None, block
    if block.startswith(_BOM):  # Arrow would silently drop it (the file's own is cut already)
        problem, prefix = _Problem(0, "byte-order mark inside the file"), b""
    elif b"\x00" in block:
        line_start = block.rfind(b"\n", 0, block.index(b"\x00")) + 1
        row = block.count(b"\n", 0, line_start)
        problem = _Problem(row, "binary data (NUL byte), not a text run file")
        prefix = block[: max(line_start - 1, 0)]
    elif not block or block.endswith(b"\n"):  # Arrow would take trailing empty lines for ends
        prefix = block.rstrip(b"\n")
        problem = _Problem(prefix.count(b"\n") + 1 if prefix else 0, "empty line")
    if not prefix:
        return None, problem
    try:
        return _read_table(prefix), problem
    except pa.ArrowException:
        lines = prefix.split(b"\n")
        row = _first_rejected_line(lines)
        table = _read_table(b"\n".join(lines[:row]) + b"\n") if row else None
        return table, _Problem(row, _describe_rejected(lines[row]))


def _check_values(
    table: pa.Table, block: bytes | memoryview, queries: _IdTable, docs: _IdTable, qrels: Qrels
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], _Problem | None]:
    """Map ids to indices and check scores; the rows before the first bad one, and its problem."""
    q = queries.lookup(table["qid"])
    d = docs.lookup(table["docid"])
    (query, query_valid), (doc, doc_valid) = _values(q, np.int32), _values(d, np.int32)
    score = _values(table["score"], np.float64)[0]
    bad = ~np.isfinite(score)
    for valid in (query_valid, doc_valid):
        if valid is not None:
            bad |= ~valid
    problem = None
    end = len(score)
    if bad.any():
        end = int(np.argmax(bad))
        fields = bytes(block).split(b"\n", end + 1)[end].split(b" ")
        if not q[end].is_valid:
            reason = f"unknown query id {_show(fields[0])} (not in {qrels.path})"
        elif not d[end].is_valid:
            reason = f"unknown document id {_show(fields[2])} (not in {qrels.path})"
        else:
            reason = f"score {_show(fields[4])} is not a finite number"
        problem = _Problem(end, reason)
    return (query[:end], doc[:end], score[:end]), problem


def _values(column: pa.ChunkedArray, dtype: type) -> tuple[np.ndarray, np.ndarray | None]:
    """A fixed-width column's values as one numpy array, and its validity (None: no nulls).

    Read from the Arrow buffers: `to_numpy` imports pandas to check for extension types,
    0.3 s of a scoring run. Null slots hold arbitrary values.
    """
    values, valid = [], []
    for chunk in column.chunks:
        if not len(chunk):
            continue
        bitmap, data = chunk.buffers()[:2]
        start = chunk.offset
        values.append(np.frombuffer(data, dtype, len(chunk), start * np.dtype(dtype).itemsize))
        if column.null_count:
            bits = np.ones(start + len(chunk), dtype=bool)
            if bitmap is not None:
                bits = np.unpackbits(np.frombuffer(bitmap, np.uint8), bitorder="little")
            valid.append(bits[start : start + len(chunk)].astype(bool))
    joined = values[0] if len(values) == 1 else np.concatenate(values or [np.zeros(0, dtype)])
    return joined, (np.concatenate(valid) if column.null_count else None)


def parse_run(
    path: str | os.PathLike[str],
    qrels: Qrels,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int], None] | None = None,
) -> Run:
    """Read and validate a run file (plain or gzip) against `qrels`.

    Raises `RunFileError` naming the first bad line, for: a wrong column count, an empty
    line, a score that is not a finite number, a query or document id the qrels do not know,
    the same (query, document) twice, NUL bytes (binary data), an empty file, a corrupt gzip
    stream, a file larger than `max_bytes` uncompressed, a line longer than `MAX_LINE_BYTES`
    (64 KiB) that crosses a read of `CHUNK_BYTES` (one inside a read is not measured: the
    limit bounds the memory carried between reads; a TREC line is far shorter). (A query
    cannot then list more documents than the gallery holds: every document is known and
    appears at most once.) `progress` is called with the number of lines of each block
    parsed.
    """
    path = os.fspath(path)
    queries, docs = _IdTable.of(qrels.query_ids), _IdTable.of(qrels.doc_ids)
    parts = _Columns(_content_bytes(path, max_bytes))

    def fail(line: int, reason: str) -> RunFileError:
        """The error to raise, unless a duplicate pair came earlier (not yet checked)."""
        if parts.size and not guard.complete:
            duplicate = _first_duplicate(parts.run(path), qrels)
            if duplicate is not None and duplicate.line < line:
                return duplicate
        return RunFileError(path, line, reason)

    guard = _PairGuard(qrels)
    separators = _Separators()
    blocks = _line_blocks(path, max_bytes)
    lines_done = 0
    while True:
        try:
            raw = next(blocks)
        except StopIteration:
            break
        except _StreamError as error:  # size limit, corrupt gzip, overlong line
            raise fail(lines_done + 1, str(error)) from None
        block, table, problem = raw, _canonical_table(raw, separators), None
        if table is None:
            block = _normalise(bytes(raw))
            table, problem = _split_block(block)
        if table is not None:
            columns, value_problem = _check_values(table, block, queries, docs, qrels)
            parts.append(columns, len(block))
            if guard.repeats(columns[0], columns[1]):  # stop now, not after reading it all
                raise _first_duplicate(parts.run(path), qrels) or RunFileError(
                    path, lines_done + 1, "a (query, document) pair is ranked twice"
                )
            problem = value_problem or problem
            if progress is not None:
                progress(len(columns[2]))
        if problem is not None:
            raise fail(lines_done + 1 + problem.row, problem.reason)
        lines_done += table.num_rows
    if not parts.size:
        raise RunFileError(path, 1, "file is empty")
    run = parts.run(path)
    if not guard.complete:
        duplicate = _first_duplicate(run, qrels)
        if duplicate is not None:
            raise duplicate
    return run


class _PairGuard:
    """Notices a repeated (query, document) pair in the block of lines where it appears.

    When a bit per possible pair fits (`Qrels.bitmap_keys`), every repeat is caught, within a
    block or across blocks (`complete`), at a cost of one scatter and two bit counts over the
    key range of the block. Otherwise repeats within a block are caught by sorting its keys,
    and any file with more lines than there are pairs is caught by counting; repeats across
    blocks are then found after the last block.
    """

    def __init__(self, qrels: Qrels) -> None:
        self.qrels = qrels
        self.lines = 0
        self.seen = np.zeros(qrels.pair_key_space, dtype=bool) if qrels.bitmap_keys else None

    @property
    def complete(self) -> bool:
        return self.seen is not None

    def repeats(self, query: np.ndarray, doc: np.ndarray) -> bool:
        """Whether this block's pairs repeat one another or (bitmap) an earlier block's."""
        if query.size == 0:
            return False
        self.lines += query.size
        if self.lines > self.qrels.pair_key_space:
            return True
        if self.seen is None:
            ordered = np.sort(self.qrels.pair_keys(query, doc))
            return bool((ordered[1:] == ordered[:-1]).any())
        # Bitmap keys fit in int32 (`BITMAP_MAX_KEYS`): half the memory traffic of int64.
        keys = np.multiply(query, self.qrels.gallery_size, dtype=np.int32)
        keys += doc
        low = int(keys.min())
        span = self.seen[low : int(keys.max()) + 1]
        before = np.count_nonzero(span)
        keys -= low
        span[keys] = True
        return np.count_nonzero(span) - before != keys.size


MIN_LINE_BYTES = 12  # "q Q0 d 1 0 t" and its newline: at most size / 12 lines (+ 1)


def _content_bytes(path: str, max_bytes: int) -> int:
    """Bytes of a run file's content, for sizing arrays: its size, or a gzip file's ISIZE
    trailer (the last member's size mod 2^32: a hint), at most `max_bytes`; 0 if unknown."""
    try:
        with open(path, "rb") as handle:
            if handle.read(2) != b"\x1f\x8b":
                return min(os.fstat(handle.fileno()).st_size, max_bytes)
            handle.seek(-4, os.SEEK_END)
            return min(int.from_bytes(handle.read(4), "little"), max_bytes)
    except OSError:
        return 0


class _Columns:
    """The validated lines so far (query int32, document int32, score float32), appended
    block by block into arrays sized from the file's content bytes and the first block's
    bytes per line (grown by doubling if that was short), so that the run needs no final
    concatenation and each block's arrays are freed as soon as they are copied."""

    def __init__(self, content_bytes: int) -> None:
        self.content_bytes = content_bytes
        self.size = 0
        self.arrays = (np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.float32))

    def append(self, columns: tuple[np.ndarray, np.ndarray, np.ndarray], block_bytes: int) -> None:
        """Add one block's columns (`block_bytes`: the block's size, for the first estimate)."""
        lines = len(columns[0])
        end = self.size + lines
        if end > len(self.arrays[0]):
            estimate = lines * self.content_bytes // max(block_bytes, 1) + lines // 16 + 1
            if self.size:
                estimate = 2 * len(self.arrays[0])
            capacity = max(end, min(estimate, self.content_bytes // MIN_LINE_BYTES + 1))
            grown = tuple(np.empty(capacity, a.dtype) for a in self.arrays)
            for old, new in zip(self.arrays, grown, strict=True):
                new[: self.size] = old[: self.size]
            self.arrays = grown
        with np.errstate(over="ignore"):  # a score beyond float32's range is infinite there
            for array, column in zip(self.arrays, columns, strict=True):
                array[self.size : end] = column
        self.size = end

    def run(self, path: str) -> Run:
        """The lines so far as a `Run` (views of the arrays)."""
        return Run(*(a[: self.size] for a in self.arrays), path=path)


def _first_duplicate(run: Run, qrels: Qrels) -> RunFileError | None:
    """The error for the first line repeating an earlier (query, document) pair, if any."""
    keys = qrels.pair_keys(run.query, run.doc)
    if qrels.bitmap_keys:
        seen = np.zeros(qrels.pair_key_space, dtype=bool)
        seen[keys] = True
        if np.count_nonzero(seen) == keys.size:
            return None
    else:
        ordered = np.sort(keys)
        if not (ordered[1:] == ordered[:-1]).any():
            return None
    order = np.argsort(keys, kind="stable")
    repeat = keys[order[1:]] == keys[order[:-1]]
    row = int(order[1:][repeat].min())
    first = int(np.flatnonzero(keys == keys[row])[0])
    pair = f"({qrels.query_ids[run.query[row]]}, {qrels.doc_ids[run.doc[row]]})"
    return RunFileError(run.path, row + 1, f"pair {pair} already ranked on line {first + 1}")
