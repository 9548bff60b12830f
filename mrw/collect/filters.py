"""Which posts become MRW pairs: reaction titles, safe for work, still up, scored, and not repeats.

`reject_reason` is a pure per-post decision; `media_key` normalises a post's link so that
reposts and crossposts of the same media collapse onto the first post seen (the state
database enforces one accepted post per key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from mrw.collect.records import Post
from mrw.core.untrusted import is_safe_id

#: Title prefixes of reaction posts, as regular expressions matched case-insensitively at the
#: start of the title (after an optional "[tag]"). MRW's own titles mostly start with these.
DEFAULT_TITLE_PATTERNS: tuple[str, ...] = (
    r"mrwh?\b",  # my reaction when / my reaction when he...
    r"mfw\b",  # my face when
    r"hmrw\b",  # his/her my reaction when
    r"mrwt\b",
    r"my (?:reaction|face|response) when\b",
    r"me when\b",
    r"(?:when|how) (?:i|we) (?:react|feel)\b",
)


@dataclass(frozen=True)
class FilterConfig:
    """Which posts count as reaction pairs (see `PostFilter.reject_reason`).

    Attributes:
        title_patterns: Regexes, one of which must match at the title's start (after an
            optional `[tag]`), case-insensitively; default: the MRW title forms ("MRW", "MFW",
            "me when", ...).
        min_score: Posts with a lower Reddit score are rejected (0: only negative ones).
        allow_nsfw: Keep posts marked over 18.
        subreddits: See the comment below.
    """

    title_patterns: tuple[str, ...] = DEFAULT_TITLE_PATTERNS
    min_score: int = 0
    allow_nsfw: bool = False
    # Only these subreddits (case-insensitive; empty = any). Posts outside are not recorded
    # at all: a full Pushshift month holds millions of posts from every subreddit.
    subreddits: tuple[str, ...] = ()

    def title_regex(self) -> re.Pattern[str]:
        """One case-insensitive regex, anchored at the start, for all `title_patterns`."""
        alternatives = "|".join(f"(?:{p})" for p in self.title_patterns)
        return re.compile(rf"^\s*(?:\[[^\]]*\]\s*)?(?:{alternatives})", re.IGNORECASE)


class PostFilter:
    """Applies a `FilterConfig` to posts: scope (subreddit) first, then acceptance."""

    def __init__(self, config: FilterConfig = FilterConfig()) -> None:
        self.config = config
        self._title = config.title_regex()
        self._subreddits = {name.lower().removeprefix("r/") for name in config.subreddits}

    def in_scope(self, post: Post) -> bool:
        """Whether the post's subreddit is configured (any, when none is)."""
        return not self._subreddits or post.subreddit.lower() in self._subreddits

    def reject_reason(self, post: Post) -> str | None:
        """Why a post is not a reaction pair (None when it is)."""
        if not is_safe_id(post.id):  # the id becomes the dataset row id and a file name
            return "unsafe id"
        if post.removed:
            return "removed or deleted"
        if post.over_18 and not self.config.allow_nsfw:
            return "nsfw"
        if not self._title.match(post.title or ""):
            return "not a reaction title"
        if post.score < self.config.min_score:
            return f"score below {self.config.min_score}"
        if not post.url or post.url.startswith("/") or _is_reddit_discussion(post.url):
            return "no media link"
        return None


_HOST_ALIASES = {"i.imgur.com": "imgur.com"}  # imgur.com/ID and i.imgur.com/ID.gifv are one media
_VARIANT_SUFFIX = re.compile(r"\.(gifv|gif|mp4|webm)$", re.IGNORECASE)


def media_key(url: str) -> str:
    """A normal form of a media link: scheme, `www.`, query, fragment, trailing `/` and the
    .gif/.gifv/.mp4 variant suffix do not make two links different media."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # malformed: only the exact same text is the same link
        return url.strip()
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    host = _HOST_ALIASES.get(host, host)
    path = _VARIANT_SUFFIX.sub("", parts.path.rstrip("/"))
    return f"{host}{path}"


def _is_reddit_discussion(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return (host.endswith("reddit.com") or host == "redd.it") and "/comments/" in parts.path
