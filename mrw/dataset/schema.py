"""The MRW row schema: one row per video–sentence pair (DESIGN.md's columns), its HF
features, and the errors of the dataset format.

One row per video–sentence pair (TGIF-style sets repeat a `video_id` over several rows).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from mrw.core.errors import MRWError

if TYPE_CHECKING:  # `datasets` loads on first use: `--help` stays fast
    import datasets

CONFIG_DIRS = {"default": "data", "urls": "urls"}
"""Config name -> its folder in a built dataset (`default`: with media; `urls`: without)."""
ROW_GROUP_ROWS = 64  # media rows are large: small row groups keep random access cheap


class DatasetFormatError(MRWError):
    """Rows or a dataset folder that do not follow the MRW format."""


class DatasetNotFoundError(MRWError):
    """A dataset name or path that does not resolve to a prepared dataset."""


@dataclass(frozen=True)
class VideoRow:
    """One video–sentence pair: the columns of DESIGN.md (`video` is bytes + a file name)."""

    id: str
    video_id: str
    sentence: str
    video_bytes: bytes | None = None
    video_path: str | None = None  # file name stored with the bytes; its extension names the format
    source: str | None = None
    post_url: str | None = None
    media_url: str | None = None
    created_utc: int | None = None
    num_frames: int | None = None
    fps: float | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    sha256: str | None = None

    @classmethod
    def from_media(
        cls, data: bytes, *, id: str, video_id: str, sentence: str, **metadata: Any
    ) -> VideoRow:
        """A row whose media metadata (frames, fps, size, sha256, file name) is read from `data`.

        Every frame is decoded once (`mrw.media.frames.verify`; a still image through
        `mrw.media.images.verify_media`), so media that would fail later is refused here: raises
        `FrameDecodeError` with the reason. A file with several video streams is stored with
        the played one alone (`mrw.media.played_stream`); `sha256` is always that of `data`, the
        file as served (what re-hydration checks a download against).
        """
        import hashlib

        from mrw.media.images import verify_media
        from mrw.media.played_stream import played_stream_only

        info = verify_media(data)
        metadata.setdefault("video_path", f"{video_id}{sniff_extension(data)}")
        return cls(
            id=id,
            video_id=video_id,
            sentence=sentence,
            video_bytes=played_stream_only(data),
            num_frames=info.num_frames,
            fps=round(info.fps, 4),
            duration_s=round(info.duration_s, 4),
            width=info.width,
            height=info.height,
            sha256=hashlib.sha256(data).hexdigest(),
            **metadata,
        )

    def to_record(self, *, with_media: bool) -> dict[str, Any]:
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        data, path = record.pop("video_bytes"), record.pop("video_path")
        record["video"] = {"bytes": data, "path": path} if with_media else None
        return record


def sniff_extension(data: bytes) -> str:
    """File extension from magic bytes (what `Video()` and players use to pick a demuxer);
    `.jpg` / `.png` for the stills of image datasets."""
    from mrw.media.images import still_format
    from mrw.media.mediatypes import EXTENSIONS, sniff

    kind = sniff(data[:16])
    if kind:
        return f".{EXTENSIONS[kind]}"
    still = still_format(data[:4096])
    return still[1] if still else ""


# Column -> HF dtype ("video" is the `Video()` feature: struct{bytes, path}).
COLUMN_TYPES: dict[str, str] = {
    "id": "string",
    "video_id": "string",
    "sentence": "string",
    "video": "video",
    "source": "string",
    "post_url": "string",
    "media_url": "string",
    "created_utc": "int64",
    "num_frames": "int32",
    "fps": "float64",
    "duration_s": "float64",
    "width": "int32",
    "height": "int32",
    "sha256": "string",
}
COLUMNS = tuple(COLUMN_TYPES)


def features() -> datasets.Features:
    """The HF features of every MRW-format dataset (both configs share them)."""
    from datasets import Features, Value, Video

    return Features(
        {
            name: Video() if dtype == "video" else Value(dtype)
            for name, dtype in COLUMN_TYPES.items()
        }
    )
