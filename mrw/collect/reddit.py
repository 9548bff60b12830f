"""Posts from the live Reddit API through praw: subreddit listings and searches.

Credentials come only from praw's own configuration: the `praw_client_id`,
`praw_client_secret` and `praw_user_agent` environment variables or a `praw.ini` site
(`--praw-site`), never from the command line, and they are never logged. prawcore asks
for `raw_json=1` on every request, so Reddit does not HTML-escape `&` in links (and
`post_from_reddit_json` unescapes a link once in any case, as dumps need). praw paces
requests by Reddit's rate-limit headers; a 429 is waited out for its `Retry-After`, and a
listing that keeps failing is reported and skipped without losing what was already read.
"""

from __future__ import annotations

import configparser
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mrw.collect.dumps import post_from_reddit_json
from mrw.collect.records import Post
from mrw.core.errors import MRWError
from mrw.net.remote import network_reason

log = logging.getLogger(__name__)

LISTINGS = ("new", "hot", "rising", "top", "controversial")
TIME_FILTERS = ("all", "year", "month", "week", "day", "hour")


class RedditError(MRWError):
    """Reddit cannot be used (no credentials, bad listing name, rate limit beyond patience)."""


@dataclass(frozen=True)
class RedditQuery:
    """What to read. Listings are `new`, `hot`, `rising`, or `top`/`controversial` with a
    time filter as `top:all`, `top:year`, ...; searches are Reddit search queries."""

    subreddits: tuple[str, ...] = ("reactiongifs",)
    listings: tuple[str, ...] = ("new", "top:all")
    searches: tuple[str, ...] = ()
    search_time_filter: str = "all"
    limit: int | None = 1000  # per listing; Reddit itself stops near 1,000
    max_wait_s: float = 600.0  # longest Retry-After we wait out
    max_failures: int = 3  # consecutive failures before a listing is skipped

    def __post_init__(self) -> None:
        for listing in self.listings:
            name, _, time_filter = listing.partition(":")
            if name not in LISTINGS or (time_filter and time_filter not in TIME_FILTERS):
                raise RedditError(
                    f"unknown listing {listing!r}; use one of {', '.join(LISTINGS)}"
                    f" (top/controversial take :{'|'.join(TIME_FILTERS)})"
                )


@dataclass
class RedditStats:
    """What the Reddit source read: posts, listings read to their end and listings skipped
    (each with its reason); `unreachable` says why Reddit could not be connected to at all."""

    posts: int = 0
    waits_s: float = 0.0
    listings_read: int = 0
    listings_failed: int = 0
    skipped_listings: list[str] = field(default_factory=list)
    unreachable: str | None = None

    def skip(self, source: str, reason: str) -> None:
        """Record a listing that could not be read to its end, and why."""
        self.listings_failed += 1
        self.skipped_listings.append(f"{source}: {reason}")


def reddit_client(site: str | None = None, **overrides: Any):  # -> praw.Reddit
    """A read-only praw client configured from the environment / praw.ini (never argv)."""
    import praw
    from praw.exceptions import MissingRequiredAttributeException

    try:
        reddit = praw.Reddit(site or "DEFAULT", check_for_updates=False, **overrides)
    except MissingRequiredAttributeException:
        raise RedditError(
            "Reddit credentials missing: set praw_client_id, praw_client_secret and praw_user_agent"
            " in the environment, or pass --praw-site NAME for a praw.ini section"
        ) from None
    except configparser.Error as exc:  # e.g. an unknown praw.ini site name
        raise RedditError(f"cannot configure Reddit client: {type(exc).__name__}: {exc}") from None
    reddit.read_only = True
    return reddit


def submission_to_post(submission: Any) -> Post:
    """A `Post` from a praw Submission, without triggering extra API calls."""
    data = {key: value for key, value in vars(submission).items() if not key.startswith("_")}
    data["subreddit"] = str(data.get("subreddit") or "")
    data["author"] = str(data["author"]) if data.get("author") is not None else "[deleted]"
    return post_from_reddit_json(data)


def iter_reddit(
    query: RedditQuery, reddit: Any, stats: RedditStats | None = None
) -> Iterator[tuple[Post, str]]:
    """(post, source) for every submission the query's listings and searches return."""
    stats = stats if stats is not None else RedditStats()
    for name in query.subreddits:
        subreddit = reddit.subreddit(name)
        for listing in query.listings:
            kind, _, time_filter = listing.partition(":")
            kwargs: dict[str, Any] = {"limit": query.limit}
            if time_filter:
                kwargs["time_filter"] = time_filter
            generator = getattr(subreddit, kind)(**kwargs)  # lazy: no request yet
            yield from _drain(generator, f"reddit:r/{name}/{listing}", query, stats)
        for text in query.searches:
            generator = subreddit.search(
                text, sort="new", time_filter=query.search_time_filter, limit=query.limit
            )
            yield from _drain(generator, f"reddit:r/{name}/search:{text}", query, stats)


def _drain(
    generator: Iterator[Any], source: str, query: RedditQuery, stats: RedditStats
) -> Iterator[tuple[Post, str]]:
    """Iterate a praw ListingGenerator, waiting out 429s and retrying server errors.

    A ListingGenerator keeps its `after` cursor when a page request fails, so calling
    `next` again retries the same page: nothing already read is lost or repeated. A
    connection that cannot be made at all (no network, DNS failure; prawcore has already
    retried it) is not retried: this and every later listing are skipped at once.
    """
    if stats.unreachable:
        stats.skip(source, f"not tried ({stats.unreachable})")
        return
    from prawcore.exceptions import (
        RequestException,
        ResponseException,
        ServerError,
        TooManyRequests,
    )

    failures = 0
    while True:
        try:
            submission = next(generator)
        except StopIteration:
            stats.listings_read += 1
            return
        except TooManyRequests as exc:
            wait_s = float(exc.retry_after or 0) or 2.0**failures
            if wait_s > query.max_wait_s:
                raise RedditError(
                    f"Reddit asked to wait {wait_s:.0f}s (over --max-wait) while reading {source}"
                ) from None
            log.warning("Reddit rate limit on %s: waiting %.0fs", source, wait_s)
            stats.waits_s += wait_s
            time.sleep(wait_s)
            continue
        except (ServerError, RequestException) as exc:
            if _cannot_connect(exc):
                reason = network_reason(exc.original_exception)  # type: ignore[union-attr]
                stats.unreachable = f"cannot connect to Reddit ({reason})"
                log.debug("skipping %s: %s", source, stats.unreachable)
                stats.skip(source, stats.unreachable)
                return
            failures += 1
            if failures >= query.max_failures:
                log.warning("skipping %s after %d failures: %s", source, failures, exc)
                stats.skip(source, str(exc))
                return
            time.sleep(min(2.0**failures, query.max_wait_s))
            continue
        except ResponseException as exc:  # 403/404/redirect: private, banned or missing subreddit
            log.warning("skipping %s: %s", source, exc)
            stats.skip(source, str(exc))
            return
        failures = 0
        stats.posts += 1
        yield submission_to_post(submission), source


def _cannot_connect(exc: Exception) -> bool:
    """Whether a prawcore error is a connection that could not be made (not a server's
    answer, not a read timeout)."""
    import requests

    original = getattr(exc, "original_exception", None)
    return isinstance(original, requests.ConnectionError) and not isinstance(
        original, requests.Timeout
    )
