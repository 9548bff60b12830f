"""Issue 28, item 11: a file with two video streams is stored with the played one alone.

Browsers and `mrw.media.frames` show the first video stream; torchcodec (plain `datasets`'
`Video()`) picks FFmpeg's "best" one, the larger. A dataset row keeps only the played stream
(packets copied), so `mrw.load_dataset` and `datasets.load_dataset` decode the same frames.
"""

from __future__ import annotations

import hashlib
import io

import av
import pytest

from mrw.dataset import VideoRow, build_dataset, load_dataset
from mrw.media.frames import decode, probe
from mrw.media.played_stream import played_stream_only
from mrw.testing import clips, refused_shapes


def _video_streams(data: bytes) -> list[tuple[int, int]]:
    with av.open(io.BytesIO(data)) as container:
        return [(s.codec_context.width, s.codec_context.height) for s in container.streams.video]


@pytest.mark.parametrize("rotation", [None, -90])
def test_the_played_stream_is_kept_alone_with_its_frames_unchanged(rotation):
    data = refused_shapes.two_video_streams(rotation=rotation)
    assert _video_streams(data) == [(32, 18), (48, 26)]
    alone = played_stream_only(data)
    assert _video_streams(alone) == [(32, 18)]
    assert probe(alone) == probe(data)
    assert probe(alone).num_frames == 10
    before, after = decode(data, None, fps=None), decode(alone, None, fps=None)
    assert before.frames.equal(after.frames) and before.timestamps.equal(after.timestamps)
    assert played_stream_only(data) == alone  # the same bytes every time


@pytest.mark.parametrize(
    "make",
    [
        lambda: clips.mp4(8),
        lambda: clips.cut_without_reencoding(clips.mp4(40), first_frame=25),
        lambda: clips.mp4(6, codec="libvpx-vp9", fmt="webm"),
        lambda: clips.gif([10, 10]).bytes(),
    ],
    ids=["mp4", "edit-list", "webm", "gif"],
)
def test_a_file_with_one_video_stream_is_stored_as_it_is(make):
    data = make()
    assert played_stream_only(data) is data


def test_a_dataset_row_holds_one_stream_and_names_the_served_file(tmp_path):
    served = refused_shapes.two_video_streams()
    row = VideoRow.from_media(served, id="a", video_id="va", sentence="mrw two streams")
    assert row.sha256 == hashlib.sha256(served).hexdigest()  # what re-hydration checks
    assert _video_streams(row.video_bytes) == [(32, 18)]
    assert (row.num_frames, row.width, row.height) == (10, 32, 18)
    other = VideoRow.from_media(clips.mp4(8), id="b", video_id="vb", sentence="mrw one stream")
    folder = build_dataset({"test": [row, other]}, tmp_path / "ds")
    loaded = load_dataset(str(folder), split="test", num_frames=None, fps=None)
    assert loaded[0]["frames"].shape == (10, 3, 18, 32)


def test_torchcodec_decodes_the_stored_row_as_mrw_does():
    """What plain `datasets` decodes with; skipped where torchcodec finds no FFmpeg libraries
    (Debian: `apt-get install ffmpeg`)."""
    decoders = pytest.importorskip("torchcodec.decoders")
    row = VideoRow.from_media(
        refused_shapes.two_video_streams(), id="a", video_id="va", sentence="mrw two streams"
    )
    try:
        theirs = decoders.VideoDecoder(row.video_bytes)
        reference = theirs.get_frames_in_range(0, len(theirs)).data
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"torchcodec cannot decode here (apt-get install ffmpeg): {exc}")
    ours = decode(row.video_bytes, num_frames=None, fps=None).frames
    assert ours.shape == reference.shape == (10, 3, 18, 32)
    assert (ours.float() - reference.float()).abs().mean() < 3
