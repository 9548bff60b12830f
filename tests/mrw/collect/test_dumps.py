"""Post sources and the post filter: Pushshift dumps (plain/.zst), recorded Reddit JSON,
reaction titles."""

from __future__ import annotations

import json

import pytest
import zstandard

from mrw.collect.dumps import DumpError, DumpStats, iter_dump, post_from_reddit_json
from mrw.collect.filters import FilterConfig, PostFilter, media_key
from mrw.testing.reddit import recorded

PUSHSHIFT = [
    {
        "id": "5abc1",
        "title": "MRW my code compiles first try",
        "url": "https://i.imgur.com/Ab1.gifv",
        "subreddit": "reactiongifs",
        "created_utc": "1479000000",
        "score": 12,
        "over_18": False,
        "author": "someone",
        "permalink": "/r/reactiongifs/comments/5abc1/mrw/",
        "domain": "i.imgur.com",
    },
    {
        "id": "5abc2",
        "title": "MFW removed",
        "url": "https://i.imgur.com/Ab2.gif",
        "subreddit": "reactiongifs",
        "created_utc": 1479000001,
        "removed_by_category": "moderator",
    },
    {
        "id": "5abc3",
        "title": "HMRW",
        "url": "https://i.imgur.com/Ab3.gif",
        "subreddit": "reactiongifs",
        "created_utc": 1479000002,
        "crosspost_parent": "t3_5abc1",
    },
]


def write_lines(path, records, extra=""):
    text = "".join(json.dumps(r) + "\n" for r in records) + extra
    if path.suffix == ".zst":
        path.write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    else:
        path.write_text(text)


@pytest.mark.parametrize("name", ["RS_2016-11.ndjson", "RS_2016-11.zst"])
def test_dump_streams_posts_and_counts_malformed_lines(tmp_path, name):
    path = tmp_path / name
    write_lines(path, PUSHSHIFT, extra='{"no": "id"}\nnot json at all\n[1, 2]\n\n')
    stats = DumpStats()
    posts = list(iter_dump(path, stats))
    assert [p.id for p in posts] == ["5abc1", "5abc2", "5abc3"]
    assert stats.skipped == {"malformed record": 3} and stats.posts == 3
    first = posts[0]
    assert (first.created_utc, first.score, first.author, first.removed) == (
        1479000000,
        12,
        "someone",
        False,
    )
    assert posts[1].removed and posts[2].crosspost_parent == "5abc1"


def test_unreadable_dumps_are_clear_errors(tmp_path):
    with pytest.raises(DumpError, match="not found"):
        list(iter_dump(tmp_path / "nope.zst"))
    bad = tmp_path / "bad.zst"
    bad.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(range(64)))
    with pytest.raises(DumpError, match="cannot read dump"):
        list(iter_dump(bad))


def test_recorded_reddit_submissions_parse_and_are_not_reactions():
    children = [c["data"] for c in recorded("new")["listing"]["data"]["children"]]
    posts = [post_from_reddit_json(c) for c in children]
    assert len(posts) == 40 and all(
        p.subreddit == "AskReddit" and p.permalink.startswith("/r/AskReddit/") for p in posts
    )
    assert sum(p.over_18 for p in posts) == sum(bool(c["over_18"]) for c in children) >= 1
    reasons = {PostFilter().reject_reason(p) for p in posts}
    assert reasons <= {"not a reaction title", "nsfw", "removed or deleted"}


@pytest.mark.parametrize(
    ("title", "kept"),
    [
        ("MRW the tests pass", True),
        ("mrw: lowercase", True),
        ("MFW it compiles", True),
        ("MRWH he says hi", True),
        ("HMRW", True),
        ("My reaction when it rains", True),
        ("me when the bus leaves", True),
        ("[Serious] MRW flair first", True),
        ("  MFW leading space", True),
        ("MRWednesday is not a prefix", False),
        ("Parents of Reddit, what is...", False),
        ("The MRW in the middle", False),
        ("", False),
    ],
)
def test_reaction_titles(title, kept):
    post = post_from_reddit_json({"id": "a", "title": title, "url": "https://i.imgur.com/x.gif"})
    assert (PostFilter().reject_reason(post) is None) is kept


def test_filter_reasons_and_configuration():
    base = {"id": "a", "title": "MRW x", "url": "https://i.imgur.com/x.gif", "score": 3}
    check = PostFilter().reject_reason
    assert check(post_from_reddit_json({**base, "over_18": True})) == "nsfw"
    assert check(post_from_reddit_json({**base, "selftext": "[removed]"})) == "removed or deleted"
    assert (
        check(post_from_reddit_json({**base, "url": "https://www.reddit.com/r/x/comments/a/b/"}))
        == "no media link"
    )
    assert (
        PostFilter(FilterConfig(min_score=5)).reject_reason(post_from_reddit_json(base))
        == "score below 5"
    )
    assert (
        PostFilter(FilterConfig(allow_nsfw=True)).reject_reason(
            post_from_reddit_json({**base, "over_18": True})
        )
        is None
    )
    custom = PostFilter(FilterConfig(title_patterns=(r"tfw\b",)))
    assert custom.reject_reason(post_from_reddit_json({**base, "title": "TFW custom"})) is None
    assert custom.reject_reason(post_from_reddit_json(base)) == "not a reaction title"


def test_media_key_collapses_variants_of_one_media():
    same = [
        "https://i.imgur.com/Ab1.gifv",
        "http://i.imgur.com/Ab1.gif",
        "https://imgur.com/Ab1",
        "https://i.imgur.com/Ab1.mp4?1",
        "https://www.imgur.com/Ab1/",
    ]
    assert len({media_key(u) for u in same}) == 1
    assert media_key("https://i.imgur.com/Ab1.gif") != media_key(
        "https://i.imgur.com/ab1.gif"
    )  # ids are case-sensitive


def test_ingest_collapses_crossposts_and_reposts_and_skips_other_subreddits(tmp_path):
    from mrw.collect.pipeline import CollectConfig, Collector

    records = [
        *PUSHSHIFT,
        {
            "id": "5abc4",
            "title": "MRW repost",
            "url": "http://imgur.com/Ab1",
            "subreddit": "ReactionGifs",
        },
        {
            "id": "5abc5",
            "title": "MRW elsewhere",
            "url": "https://i.imgur.com/Zz9.gif",
            "subreddit": "funny",
        },
        {
            "id": "5abc6",
            "title": "MRW hostile link",
            "url": "http://[::1",
            "subreddit": "reactiongifs",
        },
        {
            "id": "5abc1",
            "title": "MRW my code compiles first try",
            "url": "https://i.imgur.com/Ab1.gifv",
            "subreddit": "reactiongifs",
        },  # the same post again (another listing/dump)
    ]
    posts = [(post_from_reddit_json(r), "dump:test") for r in records]
    config = CollectConfig(
        filter=FilterConfig(subreddits=("r/reactiongifs",)), download=False, use_ytdlp=False
    )
    with Collector(tmp_path, config, progress=False) as collector:
        collector.ingest(posts)
        collector.ingest(posts)  # a resumed run re-reads its sources: nothing new
        rows = dict(collector.state.conn.execute("SELECT id, COALESCE(reason, status) FROM posts"))
        assert collector.stats.posts_new == 5 and collector.stats.posts_out_of_scope == 2
        collector.resolve_pending()
        resolutions = dict(collector.state.conn.execute("SELECT post_id, status FROM resolutions"))
    assert rows == {
        "5abc1": "accepted",
        "5abc2": "removed or deleted",
        "5abc3": "crosspost (of 5abc1)",
        "5abc4": "duplicate (of 5abc1)",
        "5abc6": "accepted",
    }
    assert resolutions == {"5abc1": "resolved", "5abc6": "unresolvable"}
