"""Posts from Pushshift submission dumps (NDJSON: plain, .zst, .bz2, .xz or .gz), streamed.

The live API lists only about 1,000 posts per listing; the 50K pairs of MRW are gathered from
archives (Pushshift's older months come as `.bz2`/`.xz`, newer ones as `.zst`). The format
is told by the file's magic bytes; files are read line by line (never loaded whole) and a
line longer than `MAX_LINE_CHARS` is skipped without being held in memory. A malformed line
is counted and skipped; a file in no known format, or a compressed file that ends before its
end-of-stream marker (an interrupted download), is an error naming the file, raised after
the posts before the cut were yielded (so the collection keeps them).
"""

from __future__ import annotations

import bz2
import gzip
import html
import io
import json
import lzma
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import zstandard

from mrw.collect.records import Post
from mrw.core.errors import MRWError

# Pushshift dumps are compressed with a long window; zstandard needs to be told to accept it.
ZSTD_MAX_WINDOW = 2**31
REMOVED_MARKERS = ("[removed]", "[deleted]")
# A submission's JSON is a few KB (selftext is capped at 40,000 characters by Reddit).
MAX_LINE_CHARS = 4 * 1024 * 1024
READ_CHUNK = 1 << 20
ZSTD_PIECE = 1 << 10


class DumpError(MRWError):
    """A dump file that cannot be read at all."""


@dataclass
class DumpStats:
    """What reading a dump did: lines read, posts produced, skipped lines per reason."""

    lines: int = 0
    posts: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        """Count one skipped line under `reason`."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def post_from_reddit_json(data: dict[str, Any]) -> Post:
    """A `Post` from a submission's JSON as Reddit's API and Pushshift write it.

    Reddit's JSON escapes `&`, `<` and `>` in string fields unless asked for `raw_json=1`
    (Pushshift dumps keep the escaping), so the link is HTML-unescaped once: a preview
    link `...?format=mp4&amp;s=SIG` is requested as `...?format=mp4&s=SIG` (with the
    escaped form the host answers 403). Titles are unescaped later, by `mrw clean`.

    Raises KeyError/ValueError/TypeError for records without the essentials (id, title).
    """
    post_id = str(data["id"]).removeprefix("t3_")
    title = data["title"]
    if not isinstance(title, str) or not post_id:
        raise ValueError("no id or title")
    subreddit = str(data.get("subreddit") or "")
    permalink = str(data.get("permalink") or f"/r/{subreddit}/comments/{post_id}/")
    author = data.get("author")
    selftext = data.get("selftext") or ""
    removed = bool(
        data.get("removed_by_category")
        or data.get("banned_by")
        or selftext in REMOVED_MARKERS
        or author == "[deleted]"
    )
    parent = data.get("crosspost_parent")
    return Post(
        id=post_id,
        title=title,
        subreddit=subreddit,
        permalink=permalink,
        url=html.unescape(str(data.get("url") or "")),
        created_utc=int(float(data.get("created_utc") or 0)),
        score=int(data.get("score") or 0),
        over_18=bool(data.get("over_18")),
        removed=removed,
        author=None if author in (None, "[deleted]") else str(author),
        domain=str(data.get("domain") or ""),
        crosspost_parent=str(parent).removeprefix("t3_") if parent else None,
    )


class _ZstdReader(io.RawIOBase):
    """Decompressed bytes of a (multi-frame) zstd file, in bounded pieces.

    Raises `EOFError` when the file ends inside a frame (`zstandard`'s stream reader returns
    a short read instead). Compressed input is fed `ZSTD_PIECE` bytes at a time, so one call
    yields at most the format's maximum ratio times that (a few MB), however large the line.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._context = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._frame = self._context.decompressobj()
        self._input = memoryview(b"")
        self._output = memoryview(b"")
        self._in_frame = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._output:
            if not self._input:
                self._input = memoryview(self._raw.read(READ_CHUNK))
                if not self._input:
                    if self._in_frame:
                        raise EOFError("compressed file ended before the end-of-stream marker")
                    return 0
            piece, self._input = self._input[:ZSTD_PIECE], self._input[ZSTD_PIECE:]
            self._in_frame = True
            self._output = memoryview(self._frame.decompress(piece))
            if self._frame.eof:  # the frame ended inside this piece; the rest starts another
                self._input = memoryview(self._frame.unused_data + bytes(self._input))
                self._frame, self._in_frame = self._context.decompressobj(), False
        size = min(len(buffer), len(self._output))
        buffer[:size], self._output = self._output[:size], self._output[size:]
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


def _decompressed(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed by its magic bytes; `DumpError` for an unknown format."""
    with path.open("rb") as probe:
        magic = probe.read(6)
        text_start = magic.lstrip()[:1]
    if magic[:4] == b"\x28\xb5\x2f\xfd":
        return io.BufferedReader(_ZstdReader(path.open("rb")), READ_CHUNK)
    if magic[:3] == b"BZh":
        return bz2.open(path, "rb")
    if magic[:6] == b"\xfd7zXZ\x00":
        return lzma.open(path, "rb")
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if not magic:
        raise DumpError(f"{path}: empty file, not a dump")
    if text_start in (b"{", b""):  # NDJSON (possibly after blank lines)
        return path.open("rb")
    raise DumpError(
        f"{path}: not a submissions dump (NDJSON, or NDJSON compressed with zstd, bzip2, xz "
        f"or gzip); it starts with bytes {magic.hex(' ')}"
    )


def _lines(handle: IO[str], stats: DumpStats, max_chars: int) -> Iterator[str | None]:
    """Lines of `handle`; None for a line over `max_chars` (read past in bounded pieces)."""
    while True:
        line = handle.readline(max_chars)
        if not line:
            return
        stats.lines += 1
        if len(line) < max_chars or line.endswith("\n"):
            yield line
            continue
        while line and not line.endswith("\n"):  # the rest of the over-long line
            line = handle.readline(max_chars)
        yield None


def iter_dump(
    path: str | os.PathLike[str],
    stats: DumpStats | None = None,
    max_line_chars: int = MAX_LINE_CHARS,
) -> Iterator[Post]:
    """Every submission in a Pushshift NDJSON dump (plain, .zst, .bz2, .xz, .gz), in file order.

    Args:
        path: the dump file; its format is told by its first bytes, not its name.
        stats: counts of lines, posts and skipped lines (by reason), updated as it reads.
        max_line_chars: longer lines are skipped as malformed records (bounded memory).

    Raises:
        DumpError: missing file, unknown format, corrupt or truncated compressed data (after
            yielding every post read before the damage).
    """
    path = Path(path)
    stats = stats if stats is not None else DumpStats()
    if not path.is_file():
        raise DumpError(f"dump file not found: {path}")
    try:
        with io.TextIOWrapper(_decompressed(path), encoding="utf-8", errors="replace") as text:
            for line in _lines(text, stats, max_line_chars):
                if line is None:
                    stats.skip("malformed record")
                    continue
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise TypeError("not an object")
                    post = post_from_reddit_json(record)
                except (ValueError, KeyError, TypeError, RecursionError):  # deep nesting
                    stats.skip("malformed record")
                    continue
                stats.posts += 1
                yield post
    except EOFError:
        raise DumpError(
            f"{path}: truncated: the compressed data ends after line {stats.lines} "
            "(an interrupted download?); the posts before the cut were read"
        ) from None
    except (zstandard.ZstdError, OSError, lzma.LZMAError, zlib.error) as exc:
        raise DumpError(f"cannot read dump {path} (line {stats.lines + 1}): {exc}") from None
