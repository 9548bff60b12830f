"""Keep only the video stream a browser plays, so every decoder of a dataset row sees one.

A file can hold several video streams (an MP4 with a 320x180 and a 480x270 track). Browsers
and `mrw.media.frames` show the first video stream; torchcodec, which plain `datasets`' `Video()`
decodes with, picks FFmpeg's "best" stream (`av_find_best_stream`: the largest, highest bit
rate). So a dataset row stores the file re-muxed with that first video stream alone: its
packets are copied unchanged (no re-encoding; timestamps, edit list and display matrix kept),
and every reader decodes the same frames. A file with one video stream is stored as it is.
"""

from __future__ import annotations

import io

import av

from mrw.media.limits import FrameDecodeError

# Output container for the input's: WebM stays WebM (VP8/VP9/AV1), other Matroska stays
# Matroska, everything else FFmpeg reads as MP4/QuickTime is written as MP4.
_WEBM_CODECS = frozenset({"vp8", "vp9", "av1"})
_EBML = b"\x1a\x45\xdf\xa3"


def played_stream_only(data: bytes) -> bytes:
    """`data` with only its first video stream (the one browsers and `mrw.media.frames` show).

    Args:
        data: a media file's bytes (GIF, MP4, WebM, ...).

    Returns:
        `data` itself when it is not a container with more than one video stream; else a new
        MP4 (or WebM/Matroska, as the input) holding that stream's packets, copied as they are.

    Raises:
        FrameDecodeError: the container cannot be read or written back (bad bytes).
    """
    if data[:3] == b"GIF" or (data[4:8] != b"ftyp" and data[:4] != _EBML):
        return data
    try:
        with av.open(io.BytesIO(data)) as source:
            videos = source.streams.video
            if len(videos) < 2:
                return data
            played = videos[0]
            if data[:4] != _EBML:
                fmt = "mp4"
            else:
                fmt = "webm" if played.codec_context.name in _WEBM_CODECS else "matroska"
            out = io.BytesIO()
            with av.open(out, "w", format=fmt, options={"fflags": "+bitexact"}) as target:
                copy = target.add_stream_from_template(played)
                for packet in source.demux(played):
                    if packet.size == 0:  # the end flush
                        continue
                    packet.stream = copy
                    target.mux(packet)
    except (av.FFmpegError, OSError, ValueError, AttributeError) as exc:
        raise FrameDecodeError(f"cannot keep the played video stream alone ({exc})") from None
    return out.getvalue()
