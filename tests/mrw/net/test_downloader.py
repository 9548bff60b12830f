"""Downloader against a loopback media host injecting each fault real hosts show."""

from __future__ import annotations

import hashlib
import time

import pytest

from mrw.net.downloader import DownloaderConfig, DownloadRequest, download_many
from mrw.net.store import MediaStore
from mrw.testing.media import corrupt_gif, make_gif, make_mp4
from mrw.testing.media_server import MediaServer, Route

FAST = {
    "workers": 4,
    "per_host": 4,
    "backoff_s": 0.05,
    "max_attempts": 3,
    "read_timeout_s": 2.0,
    "allow_private": True,
}


@pytest.fixture()
def server():
    with MediaServer() as srv:
        yield srv


def run(server: MediaServer, tmp_path, paths: dict[str, str], **overrides):
    config = DownloaderConfig(**{**FAST, **overrides})
    store = MediaStore(tmp_path / "media")
    requests = [
        DownloadRequest(key, url if "://" in url else server.url(url)) for key, url in paths.items()
    ]
    results = {r.request.key: r for r in download_many(requests, config, store)}
    assert set(results) == set(paths)  # exactly one result per request
    assert not list(store.tmp_dir.iterdir())  # no partial files left behind
    return results, store


@pytest.mark.slow
def test_every_fault_ends_in_its_status_and_recoverable_items_land(server, tmp_path):
    gif, mp4 = make_gif(1), make_mp4(2)
    big = make_gif(3, size=64, frames=8)
    server.add("/ok.gif", gif, content_type="image/gif")
    server.add("/ok.mp4", mp4, content_type="video/mp4")
    server.add("/mislabelled", gif, content_type="text/html")  # wrong type declared: bytes decide
    server.add("/html.gif", b"<!DOCTYPE html><html>oops</html>", content_type="image/gif")
    server.add("/corrupt.gif", corrupt_gif(4), content_type="image/gif")
    server.add(
        "/flaky429.gif",
        make_gif(5),
        content_type="image/gif",
        before=[Route(status=429, headers={"Retry-After": "1"})],
    )
    server.add(
        "/flaky503.gif",
        make_gif(6),
        content_type="image/gif",
        before=[Route(status=503), Route(status=502)],
    )
    server.add(
        "/cut-once.gif",
        make_gif(7),
        content_type="image/gif",
        before=[Route(body=make_gif(7), truncate_to=30)],
    )
    server.add("/always-cut.gif", make_gif(8), truncate_to=30)
    server.add("/always500.gif", status=500)
    server.add("/gone.gif", status=404, body=b"nope")
    server.add("/loop-a", redirect_to="/loop-b")
    server.add("/loop-b", redirect_to="/loop-a")
    server.add("/hop", redirect_to="/ok.gif")
    server.add("/huge.gif", big, content_type="image/gif")
    server.add("/huge-stream.gif", big, content_type="image/gif", stream=True)
    server.add("/slow.gif", gif, latency_s=2.0)
    server.add(
        "/slow-once.gif",
        make_gif(9),
        content_type="image/gif",
        before=[Route(body=make_gif(9), latency_s=2.0)],
    )
    server.add("/forever-429.gif", status=429, headers={"Retry-After": "3600"})
    paths = {
        name: f"/{name}"
        for name in [
            "ok.gif",
            "ok.mp4",
            "mislabelled",
            "html.gif",
            "corrupt.gif",
            "flaky429.gif",
            "flaky503.gif",
            "cut-once.gif",
            "always-cut.gif",
            "always500.gif",
            "gone.gif",
            "loop-a",
            "hop",
            "huge.gif",
            "huge-stream.gif",
            "slow.gif",
            "slow-once.gif",
            "forever-429.gif",
            "missing.gif",
        ]
    }
    paths["ftp"] = "ftp://example.org/a.gif"
    results, store = run(server, tmp_path, paths, max_bytes=len(gif) * 2, read_timeout_s=1.0)
    status = {key: r.status for key, r in results.items()}
    assert status == {
        "ok.gif": "ok",
        "ok.mp4": "ok",
        "mislabelled": "ok",
        "hop": "ok",
        "flaky429.gif": "ok",
        "flaky503.gif": "ok",
        "cut-once.gif": "ok",
        "slow-once.gif": "ok",
        "html.gif": "not_media",
        "corrupt.gif": "corrupt",
        "always-cut.gif": "truncated",
        "always500.gif": "server_error",
        "gone.gif": "http_error",
        "missing.gif": "http_error",
        "loop-a": "redirect_loop",
        "huge.gif": "too_large",
        "huge-stream.gif": "too_large",
        "slow.gif": "timeout",
        "forever-429.gif": "rate_limited",
        "ftp": "blocked",
    }
    assert "HTTP 404" in results["gone.gif"].reason
    assert "html" in results["html.gif"].reason
    assert "3600" in results["forever-429.gif"].reason
    assert len(results["forever-429.gif"].attempts) == 1  # gave up instead of waiting an hour
    assert [a.outcome for a in results["flaky503.gif"].attempts][:1] == ["server_error"]
    # content addressing: bytes on disk are the served bytes, named by their SHA-256
    for key, body in {
        "ok.gif": gif,
        "ok.mp4": mp4,
        "flaky429.gif": make_gif(5),
        "cut-once.gif": make_gif(7),
    }.items():
        media = results[key].media
        assert media.sha256 == hashlib.sha256(body).hexdigest()
        assert store.path(media).read_bytes() == body
    assert results["ok.mp4"].media.content_type == "video/mp4"
    # same bytes from three URLs (ok.gif, mislabelled, hop) are stored once
    assert results["ok.gif"].media == results["mislabelled"].media == results["hop"].media
    assert results["hop"].final_url == server.url("/ok.gif")


def test_retry_after_is_honoured(server, tmp_path):
    server.add(
        "/r.gif",
        make_gif(1),
        content_type="image/gif",
        before=[Route(status=429, headers={"Retry-After": "1"})],
    )
    started = time.monotonic()
    results, _ = run(server, tmp_path, {"r": "/r.gif"}, backoff_s=0.0)
    assert time.monotonic() - started >= 1.0  # waited as asked, not the (zero) backoff
    first, second = results["r"].attempts
    assert first.http_status == 429 and second.outcome == "ok"
    assert server.hits["/r.gif"] == 2


@pytest.mark.parametrize("path", ["/direct.gif", "/via-redirect"])
def test_loopback_is_blocked_without_allow_private_even_after_redirects(server, tmp_path, path):
    server.add("/direct.gif", make_gif(1), content_type="image/gif")
    results, _ = run(server, tmp_path, {"x": path}, allow_private=False)
    assert results["x"].status == "blocked"
    assert "loopback address: 127.0.0.1" in results["x"].reason
    assert server.hits["/direct.gif"] == 0  # nothing was requested


def test_redirect_to_metadata_address_is_blocked(tmp_path):
    with MediaServer() as server:
        server.add("/to-metadata", redirect_to="http://169.254.169.254/latest/meta-data/")
        # the first hop is loopback (allowed here only via host_map of a public-looking name)
        config = DownloaderConfig(**{**FAST, "allow_private": False, "host_map": {}})
        from mrw.net.downloader import Downloader

        downloader = Downloader(config, MediaStore(tmp_path))
        result = downloader.fetch(DownloadRequest("m", server.url("/to-metadata")))
        assert result.status == "blocked"


def test_host_map_routes_real_host_names_to_the_fake(server, tmp_path):
    server.add("/abc.mp4", make_mp4(3), content_type="video/mp4", host="i.imgur.com")
    results, _ = run(
        server,
        tmp_path,
        {"i": "https://i.imgur.com/abc.mp4"},
        host_map={"i.imgur.com": server.base_url},
    )
    assert results["i"].status == "ok"
    assert results["i"].final_url == "https://i.imgur.com/abc.mp4"


def test_per_host_limit_caps_concurrent_requests(tmp_path):
    with MediaServer(latency_s=0.05) as server:
        paths = {
            str(i): server.add(f"/{i}.gif", make_gif(i), content_type="image/gif")
            for i in range(12)
        }
        results, _ = run(server, tmp_path, paths, workers=8, per_host=2)
        assert all(r.ok for r in results.values())
        assert server.max_in_flight == 2


def test_dns_names_resolving_to_private_addresses_are_blocked(server, tmp_path):
    server.add("/a.gif", make_gif(1), content_type="image/gif")
    results, _ = run(
        server, tmp_path, {"x": f"http://localhost:{server.port}/a.gif"}, allow_private=False
    )
    assert results["x"].status == "blocked" and "(host localhost)" in results["x"].reason
    assert server.hits["/a.gif"] == 0


def test_connection_level_guard_catches_what_the_precheck_missed(server, tmp_path, monkeypatch):
    """DNS rebinding: the name looked public when checked, the connection reached loopback."""
    import mrw.net.downloader as downloader_module

    server.add("/a.gif", make_gif(1), content_type="image/gif")
    monkeypatch.setattr(downloader_module, "check_url", lambda url, allow_private=False: None)
    results, _ = run(server, tmp_path, {"x": "/a.gif"}, allow_private=False)
    assert results["x"].status == "blocked" and "connection to 127.0.0.1" in results["x"].reason
    assert server.hits["/a.gif"] == 0


HOSTILE = {
    "http://[::1": "bad_url",
    "http://exa mple.com/a.gif": "bad_url",
    "http://": "bad_url",
    "https://:80/x": "bad_url",
    "http://[::1]:99999/": "bad_url",
    "http://0x7f000001/": "blocked",
    "http://2130706433/": "blocked",
    "http://[::ffff:127.0.0.1]/": "blocked",
    "http://user:pass@127.0.0.1/": "blocked",
    "http://169.254.169.254/latest/meta-data/": "blocked",
    "http://10.0.0.1/a.gif": "blocked",
    "http://[::1]/a.gif": "blocked",
    "file:///etc/passwd": "blocked",
    "gopher://127.0.0.1:70/": "blocked",
    "": "blocked",
}


def test_hostile_urls_end_as_statuses_never_exceptions(tmp_path):
    requests = [DownloadRequest(str(i), url) for i, url in enumerate(HOSTILE)]
    results = {
        r.request.url: r.status
        for r in download_many(requests, DownloaderConfig(workers=4), MediaStore(tmp_path))
    }
    assert results == HOSTILE
