"""praw against a loopback fake Reddit replaying recorded listings: pagination, 429, 5xx,
deleted and NSFW posts, then the whole `mrw collect --reddit` path into downloaded media."""

from __future__ import annotations

import json

import praw.config
import prawcore.sessions
import pytest

from mrw.cli import main
from mrw.collect.filters import PostFilter
from mrw.collect.reddit import RedditError, RedditQuery, RedditStats, iter_reddit, reddit_client
from mrw.collect.state import CollectionState, iter_collected
from mrw.testing.media import make_gif, make_mp4
from mrw.testing.media_server import MediaServer, Route
from mrw.testing.reddit import FakeReddit


@pytest.fixture(autouse=True)
def no_praw_retry_sleep(monkeypatch):
    """prawcore sleeps 2-4 s before retrying a 5xx; the retry itself is what we test."""
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda self: None)


def reaction_posts(fake: FakeReddit) -> None:
    fake.add_post(
        id="r1", title="MRW the build is green", url="https://i.imgur.com/Green1.gifv", score=50
    )
    fake.add_post(
        id="r2",
        title="MFW someone says it works on my machine",
        url="https://i.imgur.com/Mach2.gif",
    )
    fake.add_post(id="r3", title="MRW nsfw", url="https://i.imgur.com/Nsfw3.gif", over_18=True)
    fake.add_post(
        id="r4",
        title="MRW deleted",
        url="https://i.imgur.com/Del4.gif",
        author="[deleted]",
        removed_by_category="deleted",
    )
    fake.add_post(
        id="r5", title="me when the tests pass", url="https://imgur.com/Green1", score=3
    )  # repost of r1
    fake.add_post(id="r6", title="My reaction when gfycat", url="https://gfycat.com/SomeDeadThing")


def test_praw_pages_through_listings_and_survives_429_and_5xx(tmp_path):
    with FakeReddit(page_size=10) as fake:
        reaction_posts(fake)
        fake.listen("reactiongifs", "new", "search")
        fake.fail_next(
            "reactiongifs",
            "new",
            Route(status=429, headers={"Retry-After": "1"}),
            Route(status=503),
        )
        stats = RedditStats()
        query = RedditQuery(listings=("new",), searches=("MRW",))
        posts = list(iter_reddit(query, reddit_client(**fake.praw_settings()), stats))
        listing_pages = [r for r in fake.server.requests if r.path == "/r/reactiongifs/new"]
        cursors = [None] + [fake.posts[i]["name"] for i in (9, 19, 29, 39)]
    recorded = 40 + 6
    assert (
        stats.posts == len(posts) == 2 * recorded
    )  # every post of both paginated listings, once each
    assert len({p.id for p, source in posts if source == "reddit:r/reactiongifs/new"}) == recorded
    assert stats.waits_s == 1.0
    assert [r.query.get("after") for r in listing_pages] == [
        None,
        None,
        *cursors,
    ]  # 429, 503, then 5 pages
    by_id = {p.id: p for p, _ in posts}
    assert by_id["r3"].over_18 and by_id["r4"].removed
    assert by_id["r1"].subreddit == by_id["48fbm9"].subreddit
    kept = {p.id for p, _ in posts if PostFilter().reject_reason(p) is None}
    assert kept == {"r1", "r2", "r5", "r6"}  # the recorded AskReddit posts are not reactions


def test_missing_credentials_are_a_clear_error(monkeypatch, tmp_path):
    for name in ("praw_client_id", "praw_client_secret", "praw_user_agent"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RedditError, match="credentials missing"):
        reddit_client()


def test_unknown_listing_is_rejected():
    with pytest.raises(RedditError, match="unknown listing"):
        RedditQuery(listings=("best:forever",))


@pytest.mark.slow
def test_mrw_collect_from_reddit_end_to_end(tmp_path, monkeypatch, capsys):
    with FakeReddit() as fake, MediaServer() as media:
        reaction_posts(fake)
        fake.listen("reactiongifs", "new", "top")
        media.add("/Green1.mp4", make_mp4(1), content_type="video/mp4", host="i.imgur.com")
        media.add(
            "/Mach2.mp4",
            make_gif(2),
            content_type="video/mp4",
            host="i.imgur.com",
            before=[Route(status=429, headers={"Retry-After": "1"})],
        )
        fake.write_praw_ini(tmp_path, site="fake")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
        monkeypatch.setattr(praw.config.Config, "CONFIG", None)  # praw caches praw.ini per process
        out = tmp_path / "collection"
        code = main(
            [
                "collect",
                "--reddit",
                "--praw-site",
                "fake",
                "--listing",
                "new",
                "--listing",
                "top:all",
                "--out",
                str(out),
                "--allow-private",
                "--host-map",
                f"i.imgur.com={media.base_url}",
                "--no-progress",
                "--no-ytdlp",
            ]
        )
        assert code == 0
        token_requests = [r for r in fake.server.requests if r.path == "/api/v1/access_token"]
        listings = [r for r in fake.server.requests if r.path.startswith("/r/")]
    # links arrive unescaped (`&`, not `&amp;`): every API request asks for raw JSON
    assert listings and all(r.query.get("raw_json") == "1" for r in listings)
    printed = capsys.readouterr()
    assert "fake-secret" not in printed.out + printed.err  # credentials never reach the output
    assert token_requests and "fake-secret" not in json.dumps(token_requests[0].query)
    items = list(iter_collected(out))
    # r5 reposts r1's media; /new lists r5 first, and the first post seen keeps the media
    assert [(i.post.id, i.content_type) for i in items] == [
        ("r5", "video/mp4"),
        ("r2", "image/gif"),
    ]
    assert items[0].media_path.read_bytes() == make_mp4(1)
    report = json.loads((out / "report.json").read_text())
    with CollectionState(out) as state:
        reasons = dict(
            state.conn.execute("SELECT id, COALESCE(reason, status) FROM posts WHERE id LIKE 'r_'")
        )
        resolutions = dict(state.conn.execute("SELECT post_id, status FROM resolutions"))
    assert reasons == {
        "r1": "duplicate (of r5)",
        "r2": "accepted",
        "r3": "nsfw",
        "r4": "removed or deleted",
        "r5": "accepted",
        "r6": "accepted",
    }
    assert resolutions == {"r2": "resolved", "r5": "resolved", "r6": "dead"}
    assert report["counts"]["resolutions"]["dead: gfycat shut down on 2023-09-01"] == 1
    assert (
        report["counts"]["posts"]["rejected: not a reaction title"] >= 30
    )  # the recorded AskReddit posts
    assert "fake-secret" not in (out / "report.json").read_text()
