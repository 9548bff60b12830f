"""Stream a multipart/form-data submission to disk, checking sizes while reading.

Only the parts `t2v` and `v2t` (run files, plain or gzip) and the text fields `name`,
`description`, `split` and `protocol_card` (the run pair's protocol card as JSON, sent by
`mrw-leaderboard submit`; kept in `Received.text`) are accepted; each run file is written to
a name the server chose (`<folder>/t2v.run`), never one taken from the request, and hashed
(SHA-256) as it arrives.
A file over its cap stops the upload at once (HTTP 413): nothing larger is ever buffered.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from leaderboard.errors import BoardError, LeaderboardError
from mrw.core.atomic import check_output_path

RUN_FIELDS = ("t2v", "v2t")
TEXT_FIELDS = ("name", "description", "split", "protocol_card")
TEXT_MAX_BYTES = 16 << 10
MAX_HEADER_BYTES = 1024
MAX_BOUNDARY_BYTES = 70  # RFC 2046, section 5.1.1


class BadUpload(LeaderboardError):
    """The request body is not an acceptable submission (HTTP 400)."""


class UploadTooLarge(LeaderboardError):
    """A part or the whole body exceeds its size cap (HTTP 413)."""


@dataclass
class Received:
    """The text fields and, per run file, its SHA-256 and size in bytes."""

    text: dict[str, str] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)


class _Sink:
    """python-multipart callbacks writing run parts to files and keeping text parts."""

    def __init__(self, folder: Path, max_file_bytes: int) -> None:
        self.folder = folder
        self.max_file_bytes = max_file_bytes
        self.received = Received()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._file: BinaryIO | None = None
        self._hash = hashlib.sha256()
        self._size = 0
        self._text = bytearray()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers, self._name, self._size = {}, "", 0

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        if name not in RUN_FIELDS + TEXT_FIELDS:
            raise BadUpload(f"unexpected form field {name[:40]!r}; expected t2v, v2t, name, ...")
        if name in self.received.text or name in self.received.sha256:
            raise BadUpload(f"form field {name!r} given twice")
        self._name = name
        if name in RUN_FIELDS:
            self._file = open(self.folder / f"{name}.run", "wb")  # noqa: SIM115 - closed at part end
            self._hash = hashlib.sha256()
        else:
            self._text.clear()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        self._size += len(chunk)
        if self._file is not None:
            if self._size > self.max_file_bytes:
                raise UploadTooLarge(f"{self._name} file exceeds {self.max_file_bytes} bytes")
            self._file.write(chunk)
            self._hash.update(chunk)
        else:
            if self._size > TEXT_MAX_BYTES:
                raise UploadTooLarge(f"field {self._name!r} exceeds {TEXT_MAX_BYTES} bytes")
            self._text.extend(chunk)

    def _part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self.received.sha256[self._name] = self._hash.hexdigest()
            self.received.size[self._name] = self._size
        else:
            try:
                self.received.text[self._name] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                raise BadUpload(f"field {self._name!r} is not UTF-8") from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def check_storage(folder: Path, needed_bytes: int) -> None:
    """Check at start that uploads can be stored in `folder`: it can be written (a real
    probe, as `mrw.core.atomic.check_output_path` makes) and has `needed_bytes` free.

    Raises:
        OutputPathError: a file cannot be made in `folder` (read-only, no permission).
        BoardError: less than `needed_bytes` free on its file system.
    """
    check_output_path(folder / ".storage-probe", folder=False)
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise BoardError(
            f"--storage {folder}: {free / 2**20:,.0f} MiB free; one submission may need "
            f"{needed_bytes / 2**20:,.0f} MiB (2 x --max-upload-bytes)"
        )


# An upload that cannot be written: 507 when the storage is full (or a file-size limit is
# hit), 503 for anything else (read-only, no permission, an I/O error).
STORAGE_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def storage_refusal(error: OSError) -> tuple[int, str]:
    """The HTTP status and the one-line message for an upload the storage refused (the
    message names no server path: only the system's description of the error)."""
    status = 507 if error.errno in STORAGE_FULL else 503
    what = error.strerror or type(error).__name__
    return status, f"the server cannot store uploads now ({what}); try again later"


def body_cap(max_file_bytes: int) -> int:
    """The most bytes a submission's body may have: both files, the text fields, framing."""
    return len(RUN_FIELDS) * max_file_bytes + len(TEXT_FIELDS) * TEXT_MAX_BYTES + (64 << 10)


def boundary_of(content_type: str) -> bytes:
    """The multipart boundary of a Content-Type header.

    Raises:
        BadUpload: not multipart/form-data, or no boundary.
    """
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not boundary:
        raise BadUpload("the body must be multipart/form-data with files t2v and v2t")
    if len(boundary) > MAX_BOUNDARY_BYTES:
        raise BadUpload(
            f"multipart boundary longer than {MAX_BOUNDARY_BYTES} characters (RFC 2046)"
        )
    return boundary


async def _until_stalled(chunks: AsyncIterator[bytes], timeout_s: float) -> AsyncIterator[bytes]:
    """`chunks`, failing with `BadUpload` when the next one takes longer than `timeout_s`."""
    iterator = chunks.__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(iterator.__anext__(), timeout_s)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise BadUpload(f"upload stalled: nothing received for {timeout_s:g} s") from None
        yield chunk


async def receive(
    chunks: AsyncIterator[bytes],
    content_type: str,
    folder: Path,
    max_file_bytes: int,
    stall_timeout_s: float = 60.0,
) -> Received:
    """Parse a multipart body from `chunks` into `folder`, enforcing the caps as it streams.

    Args:
        chunks: the request body.
        content_type: its Content-Type header.
        folder: an existing, empty folder the server made for this submission.
        max_file_bytes: cap per run file, as uploaded.
        stall_timeout_s: longest wait for the next chunk, in seconds.

    Returns:
        What was received; both run files and `name` are present and non-empty.

    Raises:
        BadUpload: malformed multipart, unknown or repeated field, missing file or name, an
            upload that stalled.
        UploadTooLarge: a file, a text field or the whole body over its cap.
    """
    sink = _Sink(folder, max_file_bytes)
    cap = body_cap(max_file_bytes)
    parser = MultipartParser(
        boundary_of(content_type),
        sink.callbacks(),
        max_header_size=MAX_HEADER_BYTES,
    )
    total = 0
    try:
        async for chunk in _until_stalled(chunks, stall_timeout_s):
            total += len(chunk)
            if total > cap:
                raise UploadTooLarge(f"request body exceeds {cap} bytes")
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise BadUpload(f"malformed multipart body ({exc})") from None
    finally:
        sink.close()
    received = sink.received
    missing = [name for name in RUN_FIELDS if not received.size.get(name)]
    if missing:
        raise BadUpload(f"missing or empty run file(s): {', '.join(missing)}")
    return received
