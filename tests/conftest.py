"""Test-wide settings and shared fixtures.

Tests never touch the network, and use one intra-op thread: the tensors here are tiny, and on
a 2-core machine (CI) extra threads only contend with each other and with the subprocesses
some tests start.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


# --- generated media and the toy dataset (frames / dataset / toy tests; shared with the harness)


def _make_gif(
    colors: Sequence[tuple[int, int, int]],
    delays_ms: int | Sequence[int] = 100,
    size: tuple[int, int] = (40, 30),
) -> bytes:
    """A GIF whose frame i is a solid `colors[i]`, shown for `delays_ms[i]` (Pillow-encoded)."""
    from PIL import Image

    frames = [Image.new("RGB", size, color) for color in colors]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="GIF", save_all=True, append_images=frames[1:], duration=delays_ms, loop=0
    )
    return buffer.getvalue()


def _make_video(
    num_frames: int, fps: int = 10, fmt: str = "mp4", size: tuple[int, int] = (64, 48)
) -> bytes:
    """An MP4 (H.264) or WebM (VP9) whose frame i has green level 12*i (PyAV-encoded)."""
    import av
    import numpy as np

    codec = {"mp4": "libx264", "webm": "libvpx-vp9"}[fmt]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(num_frames):
            array = np.zeros((size[1], size[0], 3), np.uint8)
            array[..., 1] = min(255, 12 * i)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


@pytest.fixture(scope="session")
def make_gif() -> Callable[..., bytes]:
    return _make_gif


@pytest.fixture(scope="session")
def make_video() -> Callable[..., bytes]:
    return _make_video


TOY_TEST_PAIRS = 120  # 96 train / 8 validation / 16 test: builds in about a second


@pytest.fixture(scope="session")
def toy_dataset_dir(tmp_path_factory: pytest.TempPathFactory):
    """A small toy set (MRW format, default config) built once per test session."""
    from mrw.toy.video import build_toy

    return build_toy(tmp_path_factory.mktemp("toy") / "toy", num_pairs=TOY_TEST_PAIRS, seed=0)
