"""Posts from archive dumps of submissions (Pushshift NDJSON, plain or zstd-compressed), streamed.

The live API lists only about 1,000 posts per listing; the 50K pairs of MRW are gathered from
archives. Files are read line by line (never loaded whole); a malformed line is counted and
skipped, a file that is not NDJSON/zstd at all is an error.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import zstandard

from mrw.collect.records import Post
from mrw.errors import MRWError

# Pushshift dumps are compressed with a long window; zstandard needs to be told to accept it.
ZSTD_MAX_WINDOW = 2**31
REMOVED_MARKERS = ("[removed]", "[deleted]")


class DumpError(MRWError):
    """A dump file that cannot be read at all."""


@dataclass
class DumpStats:
    lines: int = 0
    posts: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def post_from_reddit_json(data: dict[str, Any]) -> Post:
    """A `Post` from a submission's JSON as Reddit's API and Pushshift write it.

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
        url=str(data.get("url") or ""),
        created_utc=int(float(data.get("created_utc") or 0)),
        score=int(data.get("score") or 0),
        over_18=bool(data.get("over_18")),
        removed=removed,
        author=None if author in (None, "[deleted]") else str(author),
        domain=str(data.get("domain") or ""),
        crosspost_parent=str(parent).removeprefix("t3_") if parent else None,
    )


def _open_text(path: Path) -> IO[str]:
    raw = path.open("rb")
    magic = raw.read(4)
    raw.seek(0)
    if magic == b"\x28\xb5\x2f\xfd" or path.suffix == ".zst":
        reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).stream_reader(
            raw, closefd=True
        )
        return io.TextIOWrapper(reader, encoding="utf-8", errors="replace")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")


def iter_dump(path: str | os.PathLike[str], stats: DumpStats | None = None) -> Iterator[Post]:
    """Every submission in a Pushshift NDJSON dump (`.zst` or plain), in file order."""
    path = Path(path)
    stats = stats if stats is not None else DumpStats()
    if not path.is_file():
        raise DumpError(f"dump file not found: {path}")
    try:
        with _open_text(path) as lines:
            for line in lines:
                stats.lines += 1
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise TypeError("not an object")
                    post = post_from_reddit_json(record)
                except (ValueError, KeyError, TypeError):
                    stats.skip("malformed record")
                    continue
                stats.posts += 1
                yield post
    except (zstandard.ZstdError, OSError) as exc:
        raise DumpError(f"cannot read dump {path} (line {stats.lines + 1}): {exc}") from None
