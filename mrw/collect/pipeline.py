"""`mrw collect` end to end: sources -> filtered posts -> resolved media URLs -> downloaded media.

Every stage reads its work from the state database and commits each finished unit, so the
pipeline is resumable at any point: ingest re-reads the sources and skips posts already
recorded; resolution and download take only what has no final outcome yet (plus outcomes
worth retrying on a new run: transient network failures and addresses the guard blocked,
which a run with `--allow-private` may now reach).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

from tqdm import tqdm

from mrw.collect.dumps import DumpStats, iter_dump
from mrw.collect.filters import FilterConfig, PostFilter, media_key
from mrw.collect.records import Post
from mrw.collect.resolve import Resolution, Resolver
from mrw.collect.state import MEDIA_DIR, CollectionState
from mrw.core.atomic import atomic_write
from mrw.core.provenance import git_commit, versions
from mrw.core.untrusted import redact_url
from mrw.net.downloader import (
    RETRYABLE,
    Downloader,
    DownloaderConfig,
    DownloadRequest,
    DownloadResult,
    bounded_imap,
    download_many,
)
from mrw.net.store import MediaStore

#: outcomes retried when `mrw collect` runs again on the same folder
RETRY_DOWNLOADS = tuple(sorted(RETRYABLE | {"blocked"}))
RETRY_RESOLUTIONS = ("blocked", "error")
INGEST_BATCH = 500
REPORT_FILE = "report.json"


@dataclass(frozen=True)
class CollectConfig:
    """Settings of a collection run: post filter, downloader, resolution and download stages."""

    filter: FilterConfig = field(default_factory=FilterConfig)
    downloader: DownloaderConfig = field(default_factory=DownloaderConfig)
    use_ytdlp: bool = True
    download: bool = True  # False: stop after resolution (e.g. to export a URL list)


@dataclass
class RunStats:
    """What this run did (the state database holds the cumulative picture)."""

    posts_read: int = 0
    posts_out_of_scope: int = 0  # from other subreddits (not recorded)
    posts_new: int = 0
    resolutions: int = 0
    resolved: int = 0
    downloads: int = 0
    downloaded_ok: int = 0
    bytes_downloaded: int = 0
    download_s: float = 0.0
    elapsed_s: float = 0.0


class Collector:
    """Runs the collection stages against one collection folder."""

    def __init__(
        self, out: str | Path, config: CollectConfig = CollectConfig(), progress: bool = True
    ) -> None:
        self.out = Path(out)
        self.config = config
        self.progress = progress
        self.state = CollectionState(self.out)
        self.store = MediaStore(self.out / MEDIA_DIR)
        self.store.clear_temporaries()  # partial files of a killed run
        self.filter = PostFilter(config.filter)
        self.downloader = Downloader(config.downloader, self.store)
        self.resolver = Resolver(self.downloader, use_ytdlp=config.use_ytdlp)
        self.stats = RunStats()

    def close(self) -> None:
        """Close the state database."""
        self.state.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, posts: Iterable[tuple[Post, str]]) -> RunStats:
        """Ingest `(post, source)` pairs, resolve pending links, then download (if enabled).

        Stages 2 and 3 also pick up work left pending by earlier runs.
        """
        started = time.monotonic()
        self.ingest(posts)
        self.resolve_pending()
        if self.config.download:
            self.download_pending()
        self.stats.elapsed_s = time.monotonic() - started
        return self.stats

    # -- stage 1: posts ------------------------------------------------------------------
    def ingest(self, posts: Iterable[tuple[Post, str]]) -> None:
        """Record every post with the filter's decision; duplicates collapse onto the first seen."""
        batch: list[tuple[Post, str, str | None, str | None]] = []
        batch_ids: set[str] = set()
        batch_keys: dict[str, str] = {}
        try:
            for post, source in self._bar(posts, desc="posts", unit="post"):
                self.stats.posts_read += 1
                if not self.filter.in_scope(post):
                    self.stats.posts_out_of_scope += 1
                    continue
                if post.id in batch_ids or self.state.has_post(post.id):
                    continue  # the same post from another listing, or from an earlier run
                key, reason = self._decide(post, batch_ids, batch_keys)
                batch.append((post, source, key, reason))
                batch_ids.add(post.id)
                if reason is None and key is not None:
                    batch_keys[key] = post.id
                if len(batch) >= INGEST_BATCH:
                    self.stats.posts_new += self.state.add_posts(batch)
                    batch, batch_ids, batch_keys = [], set(), {}
        finally:  # a source failing midway (rate limit, bad dump line) keeps what was read
            self.stats.posts_new += self.state.add_posts(batch)

    def _decide(
        self, post: Post, batch_ids: set[str], batch_keys: dict[str, str]
    ) -> tuple[str | None, str | None]:
        reason = self.filter.reject_reason(post)
        if reason:
            return None, reason
        parent = post.crosspost_parent
        if parent and (parent in batch_ids or self.state.has_post(parent)):
            return None, f"crosspost (of {parent})"
        key = media_key(post.url)
        holder = batch_keys.get(key) or self.state.accepted_with_key(key)
        if holder:
            return None, f"duplicate (of {holder})"
        return key, None

    # -- stage 2: resolution -------------------------------------------------------------
    def resolve_pending(self) -> None:
        """Resolve accepted posts never resolved, or last "blocked" or "error", in parallel."""
        posts = self.state.posts_to_resolve(retry=RETRY_RESOLUTIONS)

        def resolve(post: Post) -> tuple[Post, Resolution]:
            return post, self.resolver.resolve(post.url)

        results = bounded_imap(resolve, posts, self.config.downloader.workers)
        for post, resolution in self._bar(results, total=len(posts), desc="resolve", unit="post"):
            self.state.record_resolution(
                post.id,
                resolution.status,
                resolution.reason,
                resolution.resolver,
                resolution.media_url,
            )
            self.stats.resolutions += 1
            self.stats.resolved += resolution.ok

    # -- stage 3: download ---------------------------------------------------------------
    def download_pending(self) -> None:
        """Download resolved links not yet downloaded, or last failed retryably or blocked."""
        pending = self.state.downloads_pending(retry=RETRY_DOWNLOADS)
        requests = (DownloadRequest(post_id, url) for post_id, url in pending)
        started = time.monotonic()
        bar = self._bar(total=len(pending), desc="download", unit="file")
        for result in download_many(requests, self.config.downloader, self.store, self.downloader):
            self._record(result)
            bar.update(1)
            bar.set_postfix(
                ok=self.stats.downloaded_ok,
                failed=self.stats.downloads - self.stats.downloaded_ok,
                MB=f"{self.stats.bytes_downloaded / 1e6:.1f}",
                refresh=False,
            )
        bar.close()
        self.stats.download_s += time.monotonic() - started

    def _record(self, result: DownloadResult) -> None:
        self.state.record_download(result)
        media = result.media
        self.stats.downloads += 1
        if media is not None:
            self.stats.downloaded_ok += 1
            self.stats.bytes_downloaded += media.size

    def _bar(self, iterable: Iterable[Any] | None = None, **kwargs: Any) -> tqdm:
        return tqdm(
            iterable, disable=not self.progress, file=sys.stderr, dynamic_ncols=True, **kwargs
        )

    # -- report --------------------------------------------------------------------------
    def report(self, sources: dict[str, Any] | None = None) -> dict[str, Any]:
        """Counts by stage and status/reason, stored media and this run's throughput.

        Saved as report.json.
        """
        files, total_bytes = self.state.stored_bytes()
        seconds = max(self.stats.download_s, 1e-9)
        report = {
            "counts": self.state.counts(),
            "sources": sources or {},
            "media": {"files": files, "bytes": total_bytes},
            "this_run": {
                **asdict(self.stats),
                "items_per_s": round(self.stats.downloads / seconds, 2)
                if self.stats.downloads
                else 0.0,
                "mb_per_s": round(self.stats.bytes_downloaded / 1e6 / seconds, 3)
                if self.stats.downloads
                else 0.0,
            },
            "config": _config_record(self.config),
            "versions": versions(),
            "git_commit": git_commit(),
        }
        with atomic_write(self.out / REPORT_FILE, "w") as handle:
            json.dump(report, handle, indent=2, sort_keys=True)
        return report


def _config_record(config: CollectConfig) -> dict[str, Any]:
    record = asdict(config)
    record["downloader"]["host_map"] = {
        host: redact_url(url) for host, url in config.downloader.host_map.items()
    }
    return record


PRIVATE_HINT = "allow with --allow-private"


def shown_reason(bucket: str) -> str:
    """A `status: reason` bucket as the summary shows it: an address the guard blocked says
    which option lifts the block (`blocked: loopback address (allow with --allow-private)`)."""
    status, _, reason = bucket.partition(": ")
    if status == "blocked" and reason.endswith(" address"):
        return f"{bucket} ({PRIVATE_HINT})"
    return bucket


def all_failed(stats: RunStats) -> str | None:
    """Why this run got no media at all although it had work (None when it got some or had
    none): every download failed, or every resolution did and nothing was downloaded."""
    if stats.downloaded_ok or not (stats.downloads or stats.resolutions - stats.resolved):
        return None
    if stats.downloads:
        return f"all {stats.downloads} downloads of this run failed"
    return f"all {stats.resolutions} media links of this run failed to resolve"


def render_report(report: dict[str, Any], console: Any = None) -> None:
    """The final report as rich tables: counts per stage and status/reason (one row per
    reason), then throughput."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(stderr=False)
    table = Table(title="mrw collect", show_lines=False)
    table.add_column("stage")
    table.add_column("status: reason")
    table.add_column("count", justify="right")
    for stage, buckets in report["counts"].items():
        for i, (bucket, count) in enumerate(buckets.items()):
            table.add_row(stage if i == 0 else "", shown_reason(bucket), str(count))
    console.print(table)
    run = report["this_run"]
    media = report["media"]
    dumps = (report.get("sources") or {}).get("dumps") or {}
    reddit = (report.get("sources") or {}).get("reddit") or {}
    if dumps.get("lines"):
        skipped = (
            ", ".join(f"{n} {why}" for why, n in dumps.get("skipped", {}).items()) or "none skipped"
        )
        console.print(f"dumps: {dumps['lines']} lines, {dumps['posts']} posts ({skipped})")
    if reddit:
        console.print(
            f"reddit: {reddit['posts']} posts, waited {reddit['waits_s']:.0f}s for rate limits"
            + "".join(f"\n  skipped {s}" for s in reddit.get("skipped_listings", []))
        )
    if run["posts_out_of_scope"]:
        console.print(f"{run['posts_out_of_scope']} posts from other subreddits were not recorded")
    # files stored per second of downloading (failed attempts are fast and store nothing)
    files_per_s = run["downloaded_ok"] / run["download_s"] if run["downloaded_ok"] else 0.0
    console.print(
        f"media: {media['files']} files, {media['bytes'] / 1e6:.1f} MB stored | this run: "
        f"{run['posts_new']} new posts, {run['downloaded_ok']}/{run['downloads']} downloads ok, "
        f"{run['bytes_downloaded'] / 1e6:.1f} MB, {files_per_s:.2f} files/s, "
        f"{run['mb_per_s']} MB/s, "
        f"{run['elapsed_s']:.1f}s total"
    )


def iter_sources(
    dumps: Iterable[Path],
    reddit_posts: Iterator[tuple[Post, str]] | None = None,
    dump_stats: DumpStats | None = None,
) -> Iterator[tuple[Post, str]]:
    """(post, source) from every dump file (in order), then from Reddit."""
    for path in dumps:
        for post in iter_dump(path, dump_stats):
            yield post, f"dump:{Path(path).name}"
    if reddit_posts is not None:
        yield from reddit_posts
