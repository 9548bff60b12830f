"""Records passed from collection (`mrw collect`) to cleaning (`mrw clean`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Post:
    """A Reddit submission as collected from the API or an archive dump."""

    id: str  # base36 post id, without the "t3_" prefix
    title: str
    subreddit: str
    permalink: str
    url: str  # the link the post points to (the media page or file)
    created_utc: int
    score: int = 0
    over_18: bool = False
    removed: bool = False  # removed by moderators or deleted by the author
    author: str | None = None
    domain: str = ""
    crosspost_parent: str | None = None  # id of the original post, for crossposts


@dataclass(frozen=True)
class CollectedItem:
    """A post whose media was downloaded: the unit `mrw clean` works on."""

    post: Post
    media_url: str  # the URL the bytes actually came from (after resolution)
    media_path: Path  # content-addressed file in the collection's media store
    sha256: str
    content_type: (
        str  # sniffed from magic bytes: "image/gif", "video/mp4", "video/webm", "image/webp"
    )
    size: int
