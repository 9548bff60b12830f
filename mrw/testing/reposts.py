"""Generated reaction clips and their reposts (resized, re-encoded), plus a collection of them.

Clips are smooth scenes with a moving square (like real footage, unlike per-pixel noise), so a
repost at another size or in another container is perceptually the same video while its
bytes differ.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


def scene(seed: int, frames: int = 16, width: int = 96, height: int = 72) -> np.ndarray:
    """`[T, H, W, 3]` uint8: a smooth random background and a square moving across it."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    background = np.asarray(
        Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    )
    colour = rng.integers(0, 256, 3, dtype=np.uint8)
    side = height // 4
    out = []
    for t in range(frames):
        frame = background.copy()
        x = int((width - side) * t / max(1, frames - 1))
        y = int((height - side) * (0.5 + 0.4 * np.sin(t / 2 + seed)))
        frame[y : y + side, x : x + side] = colour
        out.append(frame)
    return np.stack(out)


def _resized(frames: np.ndarray, size: tuple[int, int] | None) -> list[Image.Image]:
    images = [Image.fromarray(f) for f in frames]
    return [im.resize(size, Image.Resampling.BILINEAR) for im in images] if size else images


def gif_bytes(frames: np.ndarray, size: tuple[int, int] | None = None, delay_ms: int = 80) -> bytes:
    images = _resized(frames, size)
    out = io.BytesIO()
    images[0].save(
        out, format="GIF", save_all=True, append_images=images[1:], duration=delay_ms, loop=0
    )
    return out.getvalue()


def mp4_bytes(frames: np.ndarray, size: tuple[int, int] | None = None, fps: int = 12) -> bytes:
    import av

    images = _resized(frames, size)
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = images[0].size
        stream.pix_fmt = "yuv420p"
        for image in images:
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


@dataclass(frozen=True)
class FakePost:
    """What a test needs to say about a collected post: id, title, time and its media bytes."""

    id: str
    title: str
    created_utc: int
    media: bytes


def make_collection(root: Path, posts: Sequence[FakePost]) -> Path:
    """A collection folder (state + media store) as `mrw collect` leaves it, via its own API."""
    from mrw.collect.records import Post
    from mrw.collect.state import MEDIA_DIR, CollectionState
    from mrw.media.mediatypes import EXTENSIONS, sniff
    from mrw.net.downloader import DownloadRequest, DownloadResult
    from mrw.net.store import MediaStore

    store = MediaStore(root / MEDIA_DIR)
    with CollectionState(root) as state:
        for fake in posts:
            content_type = sniff(fake.media) or "image/gif"  # corrupt test media still "is" a GIF
            url = f"https://i.example.com/{fake.id}.{EXTENSIONS[content_type]}"
            post = Post(
                id=fake.id,
                title=fake.title,
                subreddit="reactiongifs",
                permalink=f"/r/reactiongifs/comments/{fake.id}/x/",
                url=url,
                created_utc=fake.created_utc,
                score=10,
                domain="i.example.com",
            )
            state.add_posts([(post, "test", url, None)])
            state.record_resolution(fake.id, "resolved", None, "direct", url)
            writer = store.writer()
            writer.write(fake.media)
            media = store.commit(writer, content_type)
            state.record_download(
                DownloadResult(DownloadRequest(fake.id, url), "ok", "", url, media)
            )
    return root
