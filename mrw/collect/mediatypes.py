"""Media type by magic bytes (never the extension or the declared Content-Type), and a decode check.

Hosts lie: an `.gif` link serves an HTML error page, a `video/mp4` header carries a JPEG.
The bytes decide, and a file that starts right but does not decode is `corrupt`.
"""
from __future__ import annotations

from pathlib import Path

#: content type -> file extension used in the media store
EXTENSIONS: dict[str, str] = {"image/gif": "gif", "video/mp4": "mp4", "video/webm": "webm"}
SNIFF_BYTES = 16


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes, or None when it is not a supported video/GIF."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
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


def decode_error(path: Path, content_type: str) -> str | None:
    """Why the media at `path` does not decode (None when it does): at least one frame must decode."""
    try:
        if content_type == "image/gif":
            from PIL import Image

            with Image.open(path) as image:
                image.seek(0)
                image.load()
                return None
        import av

        with av.open(str(path)) as container:
            if not container.streams.video:
                return "no video stream"
            for _frame in container.decode(video=0):
                return None
            return "no decodable frame"
    except Exception as exc:  # decoders raise many types; any failure means the file is unusable
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
