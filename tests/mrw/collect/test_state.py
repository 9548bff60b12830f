"""SQLite collection state: recording, resumable queries, and `iter_collected` for `mrw clean`."""

from __future__ import annotations

import errno

import pytest

from mrw.collect.records import Post
from mrw.collect.state import CollectionState, StateError, iter_collected
from mrw.net.downloader import Attempt, DownloadRequest, DownloadResult
from mrw.net.store import MediaStore, StoreError
from mrw.testing.media import make_gif


def post(pid: str, url: str) -> Post:
    return Post(
        id=pid,
        title=f"MRW {pid}",
        subreddit="reactiongifs",
        permalink=f"/r/reactiongifs/comments/{pid}/",
        url=url,
        created_utc=1_500_000_000,
        score=10,
    )


def test_state_roundtrip_and_iter_collected(tmp_path):
    store = MediaStore(tmp_path / "media")
    with CollectionState(tmp_path) as state:
        added = state.add_posts(
            [
                (post("a", "https://i.imgur.com/a.gif"), "dump:x", "k:a", None),
                (post("b", "https://i.imgur.com/b.gif"), "dump:x", "k:b", None),
                (post("c", "https://example.org/"), "dump:x", None, "not a reaction title"),
            ]
        )
        assert added == 3
        assert (
            state.add_posts([(post("a", "https://i.imgur.com/a.gif"), "dump:x", "k:a", None)]) == 0
        )
        assert [p.id for p in state.posts_to_resolve()] == ["a", "b"]
        state.record_resolution("a", "resolved", None, "imgur", "https://i.imgur.com/a.mp4")
        state.record_resolution("b", "resolved", None, "imgur", "https://i.imgur.com/b.mp4")
        assert state.posts_to_resolve() == []
        assert [pid for pid, _ in state.downloads_pending()] == ["a", "b"]
        writer = store.writer()
        writer.write(make_gif(1))
        media = store.commit(writer, "image/gif")
        attempts = (
            Attempt("https://i.imgur.com/a.mp4", 503, "server_error", "HTTP 503", 0.1),
            Attempt("https://i.imgur.com/a.mp4", 200, "ok", "", 0.1),
        )
        request_a = DownloadRequest("a", "https://i.imgur.com/a.mp4")
        state.record_download(DownloadResult(request_a, "ok", "", request_a.url, media, attempts))
        state.record_download(
            DownloadResult(
                DownloadRequest("b", "https://i.imgur.com/b.mp4"),
                "http_error",
                "HTTP 404",
                None,
                None,
                attempts[:1],
            )
        )
        assert state.downloads_pending() == []
        counts = state.counts()
        assert counts["posts"] == {"accepted": 2, "rejected: not a reaction title": 1}
        assert counts["downloads"] == {"http_error: HTTP 404": 1, "ok": 1}
        assert state.conn.execute(
            "SELECT post_id, http_status FROM attempts ORDER BY id"
        ).fetchall() == [("a", 503), ("a", 200), ("b", 503)]
    items = list(iter_collected(tmp_path))
    assert [item.post.id for item in items] == ["a"]
    item = items[0]
    assert item.post == post("a", "https://i.imgur.com/a.gif")
    assert item.media_path.read_bytes() == make_gif(1)
    assert (item.sha256, item.content_type, item.size) == (media.sha256, "image/gif", media.size)


def test_iter_collected_on_a_folder_without_state_is_a_clear_error(tmp_path):
    with pytest.raises(StateError, match="not a collection folder"):
        list(iter_collected(tmp_path))


def test_a_store_that_cannot_be_written_is_a_clear_error(tmp_path, monkeypatch):
    store = MediaStore(tmp_path / "media")
    writer = store.writer()

    class FullDisk:
        closed = False

        def write(self, data: bytes) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    writer._file = FullDisk()
    with pytest.raises(StoreError, match="No space left on device"):
        writer.write(b"GIF89a")
