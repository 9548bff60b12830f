"""Media type by magic bytes (never the extension or the declared Content-Type), and a decode check.

Hosts lie: an `.gif` link serves an HTML error page, a `video/mp4` header carries a JPEG.
The bytes decide, and a file that starts right but does not decode is `corrupt`.
"""

from __future__ import annotations

from pathlib import Path

#: content type -> file extension used in the media store
EXTENSIONS: dict[str, str] = {
    "image/gif": "gif",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "image/webp": "webp",  # CDNs answer a .gif link with an animated WebP; a still one is refused
}
SNIFF_BYTES = 16


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes, or None when it is not a supported
    video/GIF."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def describe(head: bytes) -> str:
    """A short human name for bytes that are not media, for skip reasons."""
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "html"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if text.startswith((b"{", b"[")):
        return "json"
    return "unknown bytes " + head[:8].hex()


def decode_error(path: Path) -> str | None:
    """Why the media at `path` cannot be used (None when it can): `mrw.media.frames.verify` must
    decode every frame within the decode limits (the same check `mrw clean` and dataset
    builders apply). The reason starts with its kind (`still image: ...`, `truncated input:
    ...`), without the path."""
    from mrw.media.frames import FrameDecodeError, verify

    try:
        info = verify(path)
    except FrameDecodeError as exc:
        message = str(exc).removeprefix(f"{path}: ").replace(str(path), "file")
        return " ".join(message.split())[:200]
    return None if info.num_frames > 0 else "no frames"
