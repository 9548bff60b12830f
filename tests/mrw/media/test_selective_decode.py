"""Issue 23: `decode` sends the codec only the packets the wanted frames need, and the frames
come out byte-identical to those picked from a full decode (`num_frames=None, fps=None`).

Covered: B-frames (non-reference frames skipped), short GOPs with open GOPs (decoding starts
at the last keyframe no wanted frame precedes), an edit list, variable frame rate, rotation
and VP9.
"""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from mrw.media.frames import decode
from mrw.testing import clips


def _short_gops(frames: int = 60, open_gop: bool = False) -> bytes:
    """H.264 with a keyframe every 8 frames and up to 3 B-frames; frame k is recognisable."""
    rng = np.random.default_rng(7)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"bf": "3", "g": "8", "keyint_min": "8"}
        if open_gop:
            stream.options |= {"x264-params": "open-gop=1"}
        for k in range(frames):
            pixels = rng.integers(0, 40, (48, 64, 3), dtype=np.uint8)
            pixels[..., 1] += np.uint8(clips.level(k % 43))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


MAKERS = {
    "b-frames": lambda: clips.mp4(40, bframes=True),
    "short-gops": _short_gops,
    "open-gops": lambda: _short_gops(open_gop=True),
    "edit-list-b-frames": lambda: clips.cut_without_reencoding(
        clips.mp4(40, bframes=True), first_frame=13
    ),
    "vfr-b-frames": lambda: clips.mp4(
        10, bframes=True, times_ms=[0, 40, 120, 130, 300, 310, 500, 540, 700, 1000]
    ),
    "rotated": lambda: clips.mp4(12, size=(48, 64), rotation=-90),
    "vp9": lambda: clips.mp4(24, codec="libvpx-vp9", fmt="webm"),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_sampled_frames_equal_the_same_frames_of_a_full_decode(name):
    data = MAKERS[name]()
    full = decode(data, None, fps=None)
    times = full.timestamps.tolist()
    for seed in range(6):
        for fps in (None, 8.0):
            for num_frames, sampling in ((1, "random"), (3, "random"), (8, "uniform")):
                clip = decode(data, num_frames, fps=fps, sampling=sampling, seed=seed)
                for frame, tick in zip(clip.frames, clip.timestamps.tolist(), strict=True):
                    shown = max(i for i, t in enumerate(times) if t <= tick + 1e-9)
                    assert frame.equal(full.frames[shown]), (seed, fps, num_frames, tick)
