"""Media URL resolution by host: rewrites, pages, dead hosts, yt-dlp, and the guard."""

from __future__ import annotations

import pytest

import mrw.collect.resolve as resolve_module
from mrw.collect.resolve import Resolver
from mrw.net.downloader import Downloader, DownloaderConfig
from mrw.net.store import MediaStore
from mrw.testing.media import make_mp4
from mrw.testing.media_server import MediaServer


def resolver(tmp_path, ytdlp: bool = True, **config) -> Resolver:
    return Resolver(Downloader(DownloaderConfig(**config), MediaStore(tmp_path)), use_ytdlp=ytdlp)


@pytest.mark.parametrize(
    ("url", "status", "resolver_name", "media_url"),
    [
        ("https://i.imgur.com/AbC12.gifv", "resolved", "imgur", "https://i.imgur.com/AbC12.mp4"),
        ("http://i.imgur.com/AbC12.gif", "resolved", "imgur", "https://i.imgur.com/AbC12.mp4"),
        ("https://imgur.com/AbC12", "resolved", "imgur", "https://i.imgur.com/AbC12.mp4"),
        ("https://m.imgur.com/AbC12", "resolved", "imgur", "https://i.imgur.com/AbC12.mp4"),
        ("https://i.imgur.com/AbC12.jpg", "unresolvable", "imgur", None),
        (
            "https://giphy.com/gifs/cat-funny-3o7btPCcdNniyf0ArS",
            "resolved",
            "giphy",
            "https://i.giphy.com/media/3o7btPCcdNniyf0ArS/giphy.mp4",
        ),
        (
            "https://media.giphy.com/media/3o7btPCcdNniyf0ArS/giphy.gif",
            "resolved",
            "giphy",
            "https://i.giphy.com/media/3o7btPCcdNniyf0ArS/giphy.mp4",
        ),
        (
            "https://media2.giphy.com/media/v1.Y2lkPTc5/3o7btPCcdNniyf0ArS/200.gif",
            "resolved",
            "giphy",
            "https://i.giphy.com/media/3o7btPCcdNniyf0ArS/giphy.mp4",
        ),
        (
            "https://i.giphy.com/3o7btPCcdNniyf0ArS.gif",
            "resolved",
            "giphy",
            "https://i.giphy.com/media/3o7btPCcdNniyf0ArS/giphy.mp4",
        ),
        ("https://gfycat.com/AnnualFlatGull", "dead", "dead_host", None),
        ("https://thumbs.gfycat.com/AnnualFlatGull-size_restricted.gif", "dead", "dead_host", None),
        ("https://www.redgifs.com/watch/annualflatgull", "dead", "dead_host", None),
        ("https://i.redd.it/x1y2z3.gif", "resolved", "i.redd.it", "https://i.redd.it/x1y2z3.gif"),
        (
            "https://preview.redd.it/x1y2z3.gif?format=mp4&s=abc",
            "resolved",
            "i.redd.it",
            "https://preview.redd.it/x1y2z3.gif?format=mp4&s=abc",
        ),
        ("https://i.redd.it/x1y2z3.png", "unresolvable", "i.redd.it", None),
        (
            "https://media.tenor.com/abc/tenor.gif",
            "resolved",
            "direct",
            "https://media.tenor.com/abc/tenor.gif",
        ),
        ("https://example.org/clip.webm", "resolved", "direct", "https://example.org/clip.webm"),
        ("https://example.org/clip.gifv", "resolved", "direct", "https://example.org/clip.mp4"),
        ("https://www.reddit.com/r/reactiongifs/comments/abc/mrw/", "unresolvable", "direct", None),
        ("ftp://example.org/a.gif", "unresolvable", "scheme", None),
        ("javascript:alert(1)", "unresolvable", "scheme", None),
        ("https://example.org/page", "unresolvable", "direct", None),  # yt-dlp disabled here
    ],
)
def test_host_rules(tmp_path, url, status, resolver_name, media_url):
    result = resolver(tmp_path, ytdlp=False).resolve(url)
    assert (result.status, result.resolver, result.media_url) == (status, resolver_name, media_url)
    assert (result.reason is None) == (status == "resolved")


def test_imgur_album_page_is_read_through_host_map(tmp_path):
    with MediaServer() as server:
        server.add(
            "/a/Alb1",
            b'<html><head><meta property="og:video" content="https://i.imgur.com/Vid9.mp4?fb">'
            b"</head></html>",
            content_type="text/html",
            host="imgur.com",
        )
        server.add(
            "/gallery/NoVid",
            b"<html><head><title>x</title></head></html>",
            content_type="text/html",
            host="imgur.com",
        )
        res = resolver(tmp_path, allow_private=True, host_map={"imgur.com": server.base_url})
        assert (
            res.resolve("https://imgur.com/a/Alb1").media_url == "https://i.imgur.com/Vid9.mp4?fb"
        )
        no_video = res.resolve("https://imgur.com/gallery/NoVid")
        assert (no_video.status, no_video.reason) == ("unresolvable", "page has no video")
        gone = res.resolve("https://imgur.com/a/Gone")
        assert (gone.status, gone.reason) == ("error", "HTTP 404 for https://imgur.com/a/Gone")
        blocked = resolver(tmp_path, host_map={"imgur.com": server.base_url}).resolve(
            "https://imgur.com/a/Alb1"
        )
        assert blocked.status == "blocked" and "loopback" in blocked.reason
        assert server.hits["/a/Alb1"] == 1  # the blocked attempt sent nothing


@pytest.mark.slow
def test_unknown_hosts_go_through_yt_dlp_generic_extractor(tmp_path, monkeypatch):
    with MediaServer() as server:
        server.add(
            "/post/42",
            b'<html><body><video src="/files/42.mp4" controls></video></body></html>',
            content_type="text/html",
        )
        server.add("/files/42.mp4", make_mp4(42), content_type="video/mp4")
        page = server.url("/post/42")
        found = resolver(tmp_path, allow_private=True).resolve(page)
        assert (found.status, found.resolver, found.media_url) == (
            "resolved",
            "yt-dlp",
            server.url("/files/42.mp4"),
        )
        missing = resolver(tmp_path, allow_private=True).resolve(server.url("/post/404"))
        assert (
            missing.status == "unresolvable"
            and missing.reason.startswith("yt-dlp:")
            and "404" in missing.reason
        )
        server.add("/post/busy", status=503)
        busy = resolver(tmp_path, allow_private=True).resolve(server.url("/post/busy"))
        assert busy.status == "error"  # retried by the next run, unlike a 404
        blocked = resolver(tmp_path).resolve(page)
        assert blocked.status == "blocked"
        assert server.hits["/post/42"] == 1
        # yt-dlp's own HTTP stack is guarded too: a host that looked public when checked
        # (DNS rebinding) or a redirect inside yt-dlp still cannot reach loopback
        monkeypatch.setattr(resolve_module, "check_url", lambda url, allow_private=False: None)
        rebound = resolver(tmp_path).resolve(page)
        assert (rebound.status, rebound.reason) == (
            "blocked",
            "loopback address: 127.0.0.1 (connection to 127.0.0.1)",
        )
        assert server.hits["/post/42"] == 1


@pytest.mark.parametrize("url", ["http://[::1", "http://example.org:99999/a.gif", "", "not a url"])
def test_malformed_links_are_unresolvable(tmp_path, url):
    assert resolver(tmp_path, ytdlp=False).resolve(url).status == "unresolvable"
