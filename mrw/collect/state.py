"""Collection state in SQLite (WAL): every post, resolution and download attempt, with status
and reason.

Each finished unit of work is committed in its own transaction, so `mrw collect` can be killed
at any moment (even `kill -9`) and started again: finished work is skipped, unfinished work
is redone from scratch, nothing is recorded twice.

Tables:
- `posts`: every post seen, `accepted` or `rejected` with the filter's reason, in ingest order.
- `resolutions`: per accepted post, the media URL to fetch (`resolved`) or why not.
- `attempts`: every HTTP attempt made to download a post's media.
- `downloads`: per resolved post, the final outcome (`ok` or a failure status) and its media.
- `media`: one row per distinct stored file (SHA-256 content address).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Self

from mrw.collect.records import CollectedItem, Post
from mrw.core.errors import MRWError
from mrw.core.untrusted import redact_url, redact_urls

if TYPE_CHECKING:  # readers of a collection (`mrw clean`) need no HTTP stack
    from mrw.net.downloader import DownloadResult

STATE_FILE = "state.sqlite"
MEDIA_DIR = "media"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    data TEXT NOT NULL,
    media_key TEXT,
    status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
    reason TEXT,
    seen_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS posts_accepted_media
    ON posts (media_key) WHERE status = 'accepted';
CREATE TABLE IF NOT EXISTS resolutions (
    post_id TEXT PRIMARY KEY REFERENCES posts (id),
    status TEXT NOT NULL,
    reason TEXT,
    resolver TEXT,
    media_url TEXT,
    resolved_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts (id),
    url TEXT NOT NULL,
    http_status INTEGER,
    outcome TEXT NOT NULL,
    detail TEXT,
    elapsed_s REAL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
    sha256 TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    path TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS downloads (
    post_id TEXT PRIMARY KEY REFERENCES posts (id),
    status TEXT NOT NULL,
    reason TEXT,
    media_url TEXT NOT NULL,
    final_url TEXT,
    sha256 TEXT REFERENCES media (sha256),
    finished_at REAL NOT NULL
);
"""


class StateError(MRWError):
    """The collection folder has no readable state database."""


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open (creating if needed) a state database in WAL mode.

    Raises:
        StateError: the file exists but is not an SQLite database (or cannot be opened).
    """
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(_SCHEMA)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StateError(f"{path}: not a collection state database ({exc})") from None
    return conn


def post_to_json(post: Post) -> str:
    """The post as compact JSON (sorted keys, UTF-8 kept), as stored in `posts.data`."""
    return json.dumps(dataclasses.asdict(post), sort_keys=True, ensure_ascii=False)


def post_from_json(text: str) -> Post:
    """Inverse of `post_to_json`."""
    return Post(**json.loads(text))


class CollectionState:
    """The state of one collection folder (`DIR/state.sqlite`, media under `DIR/media`)."""

    def __init__(self, collection_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(collection_dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise StateError(f"{self.dir} is not a folder (a file is in the way)") from None
        except OSError as exc:
            raise StateError(f"cannot create {self.dir}: {exc.strerror}") from None
        self.conn = connect(self.dir / STATE_FILE)

    def close(self) -> None:
        """Close the database connection."""
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- posts ---------------------------------------------------------------------------
    def has_post(self, post_id: str) -> bool:
        """Whether the post was recorded (accepted or rejected) by any run."""
        return (
            self.conn.execute("SELECT 1 FROM posts WHERE id = ?", (post_id,)).fetchone() is not None
        )

    def accepted_with_key(self, media_key: str) -> str | None:
        """The id of the accepted post already holding this media key, if any."""
        row = self.conn.execute(
            "SELECT id FROM posts WHERE status = 'accepted' AND media_key = ?", (media_key,)
        ).fetchone()
        return row[0] if row else None

    def add_posts(self, rows: Iterable[tuple[Post, str, str | None, str | None]]) -> int:
        """Insert (post, source, media_key, reject_reason) rows in one transaction.

        Returns how many were new.
        """
        now = time.time()
        added = 0
        with self._transaction():
            for post, source, media_key, reason in rows:
                cur = self.conn.execute(
                    "INSERT OR IGNORE INTO posts"
                    " (id, source, data, media_key, status, reason, seen_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        post.id,
                        source,
                        post_to_json(post),
                        media_key,
                        "rejected" if reason else "accepted",
                        reason,
                        now,
                    ),
                )
                added += cur.rowcount
        return added

    def posts_to_resolve(self, retry: Iterable[str] = ()) -> list[Post]:
        """Accepted posts not resolved yet, or whose resolution ended in a status in `retry`."""
        retry = tuple(retry)
        rows = self.conn.execute(
            "SELECT p.data FROM posts p LEFT JOIN resolutions r ON r.post_id = p.id"
            f" WHERE p.status = 'accepted' AND (r.post_id IS NULL OR r.status IN ({_marks(retry)}))"
            " ORDER BY p.seq",
            retry,
        ).fetchall()
        return [post_from_json(row[0]) for row in rows]

    # -- resolutions ---------------------------------------------------------------------
    def record_resolution(
        self,
        post_id: str,
        status: str,
        reason: str | None,
        resolver: str | None,
        media_url: str | None,
    ) -> None:
        """Store (replacing any earlier) the resolution of a post; URLs in `reason` are
        redacted."""
        self.conn.execute(
            "INSERT OR REPLACE INTO resolutions"
            " (post_id, status, reason, resolver, media_url, resolved_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                post_id,
                status,
                redact_urls(reason) if reason else reason,
                resolver,
                media_url,
                time.time(),
            ),
        )

    def downloads_pending(self, retry: Iterable[str] = ()) -> list[tuple[str, str]]:
        """(post id, media URL) for resolved posts not downloaded yet, or whose download ended
        in a status in `retry`, in ingest order."""
        retry = tuple(retry)
        return self.conn.execute(
            "SELECT r.post_id, r.media_url FROM resolutions r JOIN posts p ON p.id = r.post_id"
            " LEFT JOIN downloads d ON d.post_id = r.post_id"
            f" WHERE r.status = 'resolved' AND (d.post_id IS NULL OR d.status IN ({_marks(retry)}))"
            " ORDER BY p.seq",
            retry,
        ).fetchall()

    # -- downloads -----------------------------------------------------------------------
    def record_download(self, result: DownloadResult) -> None:
        """Record a download's attempts, its media and its outcome in one transaction (keyed by
        `result.request.key`, the post id)."""
        post_id, media, now = result.request.key, result.media, time.time()
        with self._transaction():
            self.conn.executemany(
                "INSERT INTO attempts (post_id, url, http_status, outcome, detail, elapsed_s, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        post_id,
                        redact_url(a.url),
                        a.http_status,
                        a.outcome,
                        redact_urls(a.detail) if a.detail else a.detail,
                        a.elapsed_s,
                        now,
                    )
                    for a in result.attempts
                ],
            )
            if media is not None:
                self.conn.execute(
                    "INSERT OR IGNORE INTO media (sha256, content_type, size, path)"
                    " VALUES (?, ?, ?, ?)",
                    (media.sha256, media.content_type, media.size, media.relpath),
                )
            self.conn.execute(
                "INSERT OR REPLACE INTO downloads"
                " (post_id, status, reason, media_url, final_url, sha256, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    post_id,
                    result.status,
                    redact_urls(result.reason) or None,
                    result.request.url,
                    result.final_url,
                    media.sha256 if media else None,
                    now,
                ),
            )

    # -- reporting -----------------------------------------------------------------------
    def counts(self) -> dict[str, dict[str, int]]:
        """Counts by stage and `status: reason` (reasons bucketed by their first word group)."""
        queries = {
            "posts": "SELECT status, reason FROM posts",
            "resolutions": "SELECT status, reason FROM resolutions",
            "downloads": "SELECT status, reason FROM downloads",
        }
        out: dict[str, dict[str, int]] = {}
        for stage, query in queries.items():
            buckets: dict[str, int] = {}
            for status, reason in self.conn.execute(query):
                key = status if not reason else f"{status}: {reason_bucket(reason)}"
                buckets[key] = buckets.get(key, 0) + 1
            out[stage] = dict(sorted(buckets.items(), key=lambda kv: (-kv[1], kv[0])))
        return out

    def stored_bytes(self) -> tuple[int, int]:
        """(number of distinct media files, total bytes) in the store."""
        n, total = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM media"
        ).fetchone()
        return int(n), int(total)

    def _transaction(self) -> _Transaction:
        return _Transaction(self.conn)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _marks(values: tuple[str, ...]) -> str:
    return ", ".join("?" * len(values)) or "NULL"


def reason_bucket(reason: str) -> str:
    """The stable part of a reason ("HTTP 404 from https://x/y" -> "HTTP 404"), for counting."""
    return reason.split(" (", 1)[0].split(": ", 1)[0].split(" from ", 1)[0]


def iter_collected(collection_dir: str | os.PathLike[str]) -> Iterator[CollectedItem]:
    """The posts of a collection whose media was downloaded, in ingest order (`mrw clean`'s input).

    Works on a collection that is still being written (WAL readers see the last commit).
    """
    root = Path(collection_dir)
    db = root / STATE_FILE
    if not db.is_file():
        raise StateError(
            f"{root} is not a collection folder (no {STATE_FILE}); run `mrw collect --out {root}`"
        )
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30.0)
    try:
        rows = conn.execute(
            "SELECT p.data, d.final_url, m.path, m.sha256, m.content_type, m.size"
            " FROM downloads d JOIN posts p ON p.id = d.post_id JOIN media m ON m.sha256 = d.sha256"
            " WHERE d.status = 'ok' ORDER BY p.seq"
        )
        for data, final_url, path, sha256, content_type, size in rows:
            yield CollectedItem(
                post=post_from_json(data),
                media_url=final_url,
                media_path=root / MEDIA_DIR / path,
                sha256=sha256,
                content_type=content_type,
                size=int(size),
            )
    except sqlite3.DatabaseError as exc:
        raise StateError(f"cannot read {db}: {exc}") from None
    finally:
        conn.close()
