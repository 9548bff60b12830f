"""`mrw collect`: gather reaction posts (archive dumps and/or live Reddit), download their media."""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

from mrw.core.atomic import check_output_path
from mrw.core.cliargs import MAX_WORKERS, integer, number


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw collect` sub-command to `subparsers`; return its parser."""
    from mrw.collect.filters import FilterConfig
    from mrw.net.downloader import DownloaderConfig

    dl, flt = DownloaderConfig(), FilterConfig()
    parser = subparsers.add_parser(
        "collect",
        help="collect reaction posts and download their GIFs (resumable)",
        description=(
            "Read reaction posts from Pushshift archive dumps (--dump, NDJSON or .zst) and/or live "
            "Reddit (--reddit, through praw), keep reaction titles, resolve each link to its media "
            "file, and download it into OUT/media (content addressed). Every post, resolution and "
            "download attempt is recorded in OUT/state.sqlite: re-running the same command resumes "
            "where a killed run stopped. Reddit credentials come only from praw's environment "
            "variables (praw_client_id, praw_client_secret, praw_user_agent) or a praw.ini site."
        ),
    )
    src = parser.add_argument_group("sources")
    src.add_argument(
        "--dump",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="Pushshift submissions dump, NDJSON or .zst (repeatable)",
    )
    src.add_argument(
        "--reddit", action="store_true", help="also read live Reddit listings through praw"
    )
    src.add_argument(
        "--subreddit",
        action="append",
        metavar="NAME",
        help="subreddit to read from Reddit and to keep from dumps (repeatable; default: "
        "reactiongifs for --reddit, any for dumps)",
    )
    src.add_argument(
        "--listing",
        action="append",
        metavar="KIND",
        help="new, hot, rising, top:all, top:year, ... (repeatable; default: new and top:all)",
    )
    src.add_argument(
        "--search",
        action="append",
        default=[],
        metavar="QUERY",
        help="also run this Reddit search in each subreddit (repeatable)",
    )
    src.add_argument(
        "--limit",
        type=integer(1, 100_000),
        default=1000,
        help="posts per listing (default %(default)s; Reddit caps near 1000)",
    )
    src.add_argument("--praw-site", metavar="NAME", help="praw.ini section holding credentials")

    keep = parser.add_argument_group("post filter")
    keep.add_argument(
        "--title-pattern",
        action="append",
        metavar="REGEX",
        help="reaction title prefix (repeatable; replaces the defaults: MRW, MFW, MRWH, HMRW, "
        "'my reaction when', 'me when', ...)",
    )
    keep.add_argument(
        "--min-score",
        type=integer(-(2**31), 2**31),
        default=flt.min_score,
        help="default %(default)s",
    )
    keep.add_argument("--allow-nsfw", action="store_true", help="keep posts marked NSFW")

    net = parser.add_argument_group("download")
    net.add_argument(
        "--out", type=Path, required=True, help="collection folder (created; resumed if it exists)"
    )
    net.add_argument(
        "--workers",
        type=integer(1, MAX_WORKERS),
        default=dl.workers,
        help="concurrent downloads (default %(default)s)",
    )
    net.add_argument(
        "--per-host",
        type=integer(1, MAX_WORKERS),
        default=dl.per_host,
        help="concurrent requests per host (default %(default)s)",
    )
    net.add_argument(
        "--timeout",
        type=number(0, 3600, above_minimum=True),
        default=dl.read_timeout_s,
        metavar="S",
        help="read timeout (default %(default)s)",
    )
    net.add_argument(
        "--retries",
        type=integer(0, 100),
        default=dl.max_attempts - 1,
        help="retries on 429/5xx/timeouts/truncation (default %(default)s)",
    )
    net.add_argument(
        "--max-size",
        type=number(0, 1 << 20, above_minimum=True),
        default=dl.max_bytes / 2**20,
        metavar="MB",
        help="largest media file (default %(default)s)",
    )
    net.add_argument(
        "--max-wait",
        type=float,
        default=dl.max_wait_s,
        metavar="S",
        help="longest Retry-After to honour before giving up on a URL (default %(default)s)",
    )
    net.add_argument(
        "--allow-private",
        action="store_true",
        help="allow URLs that reach private/loopback/link-local addresses (local mirrors, tests)",
    )
    net.add_argument(
        "--host-map",
        action="append",
        default=[],
        metavar="HOST=URL",
        help="fetch HOST's files from URL instead (a mirror; tests use loopback servers)",
    )
    net.add_argument(
        "--no-ytdlp", action="store_true", help="do not use yt-dlp for v.redd.it and unknown hosts"
    )
    net.add_argument("--no-download", action="store_true", help="stop after resolving media URLs")
    net.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")
    parser.set_defaults(func=run)
    return parser


def _host_map(pairs: list[str]) -> dict[str, str]:
    from mrw.core.cliutil import fail
    from mrw.core.untrusted import UnsafeInputError, check_http_url, redact_url

    mapping = {}
    for pair in pairs:
        host, sep, url = pair.partition("=")
        try:
            check_http_url(url, "--host-map URL")
        except UnsafeInputError:
            fail(f"--host-map expects HOST=http(s)://..., got {redact_url(pair)!r}")
        if not sep or not host:
            fail(f"--host-map expects HOST=http(s)://..., got {redact_url(pair)!r}")
        mapping[host.lower()] = url.rstrip("/")
    return mapping


# What `mrw collect` imports from the `collect` extra: import name -> distribution name.
COLLECT_MODULES = {"praw": "praw", "yt_dlp": "yt-dlp", "zstandard": "zstandard"}


def run(args: argparse.Namespace) -> int:
    """Run `mrw collect` with parsed `args`; return the process exit code."""
    from mrw.core.cliutil import fail, require_extra

    require_extra("collect", COLLECT_MODULES)
    from mrw.collect.dumps import DumpStats
    from mrw.collect.filters import DEFAULT_TITLE_PATTERNS, FilterConfig
    from mrw.collect.pipeline import (
        CollectConfig,
        Collector,
        all_failed,
        iter_sources,
        render_report,
        shown_reason,
    )
    from mrw.net.downloader import DownloaderConfig

    if not args.dump and not args.reddit:
        fail("nothing to collect from: give --dump FILE and/or --reddit")
    for path in args.dump:
        if not path.exists():
            fail(f"dump file not found: {path}")
        if not path.is_file():
            fail(f"dump {path} is not a regular file (a folder, device or pipe)")
    for pattern in args.title_pattern or ():
        try:
            re.compile(pattern)
        except re.error as exc:
            fail(f"--title-pattern {pattern!r} is not a regular expression ({exc})")
    check_output_path(args.out, folder=True)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # prawcore warns at every retry of its own; skipped listings are reported by mrw instead.
    logging.getLogger("prawcore").setLevel(logging.ERROR)
    config = CollectConfig(
        filter=FilterConfig(
            title_patterns=tuple(args.title_pattern or DEFAULT_TITLE_PATTERNS),
            min_score=args.min_score,
            allow_nsfw=args.allow_nsfw,
            subreddits=tuple(args.subreddit or ()),
        ),
        downloader=DownloaderConfig(
            workers=args.workers,
            per_host=args.per_host,
            read_timeout_s=args.timeout,
            max_attempts=args.retries + 1,
            max_bytes=int(args.max_size * 2**20),
            max_wait_s=args.max_wait,
            allow_private=args.allow_private,
            host_map=_host_map(args.host_map),
        ),
        use_ytdlp=not args.no_ytdlp,
        download=not args.no_download,
    )
    reddit_posts, reddit_stats = None, None
    if args.reddit:
        from mrw.collect.reddit import RedditQuery, RedditStats, iter_reddit, reddit_client

        query = RedditQuery(
            subreddits=tuple(args.subreddit or ("reactiongifs",)),
            listings=tuple(args.listing or ("new", "top:all")),
            searches=tuple(args.search),
            limit=args.limit,
            max_wait_s=args.max_wait,
        )
        reddit_stats = RedditStats()
        reddit_posts = iter_reddit(query, reddit_client(args.praw_site), reddit_stats)
    dump_stats = DumpStats()
    with Collector(args.out, config, progress=not args.no_progress) as collector:
        stats = collector.run(iter_sources(args.dump, reddit_posts, dump_stats))
        report = collector.report(
            sources={
                "dumps": {
                    "lines": dump_stats.lines,
                    "posts": dump_stats.posts,
                    "skipped": dump_stats.skipped,
                },
                "reddit": vars(reddit_stats) if reddit_stats else None,
            }
        )
    if not args.dump and reddit_stats and not reddit_stats.listings_read:
        from mrw.collect.reddit import RedditError

        reason = reddit_stats.unreachable or reddit_stats.skipped_listings[0].partition(": ")[2]
        raise RedditError(
            f"no source could be read: all {reddit_stats.listings_failed} Reddit listings "
            f"failed ({reason}); see {args.out / 'report.json'}"
        )
    render_report(report)
    if args.dump and not args.reddit and dump_stats.posts == 0:
        skipped = ", ".join(f"{n:,} {reason}" for reason, n in dump_stats.skipped.items())
        fail(
            f"no post in {', '.join(map(str, args.dump))} ({dump_stats.lines:,} lines"
            f"{'; ' + skipped if skipped else ''}): expected Pushshift NDJSON, plain or .zst"
        )
    failed = all_failed(stats)
    if failed and config.download:
        stage = "downloads" if stats.downloads else "resolutions"
        buckets = report["counts"][stage].items()
        top = next(((k, n) for k, n in buckets if not k.startswith("ok")), None)
        most = f"; most: {top[1]} {shown_reason(top[0])}" if top else ""
        fail(f"no media collected: {failed}{most}; see {args.out / 'report.json'}")
    return 0
