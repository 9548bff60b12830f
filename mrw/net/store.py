"""Content-addressed media store: one file per distinct media, named by the SHA-256 of its bytes.

Files are streamed into a temporary name and renamed into place only once complete, so a
killed run never leaves a partial file under a final name, and the same GIF posted twice is
stored once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mrw.core.errors import MRWError
from mrw.media.mediatypes import EXTENSIONS


class StoreError(MRWError):
    """The media store cannot be written (disk full, permissions): stop, keep what is recorded."""


@dataclass(frozen=True)
class StoredMedia:
    """A media file in the store: its SHA-256 (hex), MIME type, size in bytes and path."""

    sha256: str
    content_type: str
    size: int
    relpath: str  # relative to the store's root, e.g. "ab/abcd....gif"


class MediaWriter:
    """An open temporary file that hashes what is written; `MediaStore.commit` moves it into
    place."""

    def __init__(self, tmp_dir: Path) -> None:
        try:
            fd, name = tempfile.mkstemp(prefix="dl-", suffix=".part", dir=tmp_dir)
        except OSError as exc:
            raise StoreError(f"cannot write to the media store {tmp_dir.parent}: {exc}") from None
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Append `chunk` and hash it.

        Raises:
            StoreError: If the file cannot be written (disk full, permissions).
        """
        try:
            self._file.write(chunk)
        except OSError as exc:
            raise StoreError(f"cannot write to the media store: {exc}") from None
        self._hash.update(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        """Close the temporary file (idempotent)."""
        if not self._file.closed:
            self._file.close()

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes written so far."""
        return self._hash.hexdigest()

    def discard(self) -> None:
        """Close and delete the temporary file."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class MediaStore:
    """Media files under `root/{sha[:2]}/{sha}.{ext}` (256 folders: ~200 files each at MRW's
    size); temporaries under `root/.tmp`."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / ".tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def writer(self) -> MediaWriter:
        """A new temporary file in the store's `.tmp` folder."""
        return MediaWriter(self.tmp_dir)

    def relpath(self, sha256: str, content_type: str) -> str:
        """`{sha[:2]}/{sha}.{ext}`; `KeyError` for a content type not in `EXTENSIONS`."""
        return f"{sha256[:2]}/{sha256}.{EXTENSIONS[content_type]}"

    def path(self, media: StoredMedia) -> Path:
        """Absolute location of a stored media file."""
        return self.root / media.relpath

    def commit(self, writer: MediaWriter, content_type: str) -> StoredMedia:
        """Move a finished download to its content address (dropping it if that media is
        already stored)."""
        relpath = self.relpath(writer.sha256, content_type)
        target = self.root / relpath
        try:
            writer.close()
            if target.exists() and target.stat().st_size == writer.size:
                writer.discard()
            else:
                if not target.parent.is_dir():  # a stat is much cheaper than mkdir(exist_ok=True)
                    target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(writer.path, target)
        except OSError as exc:
            raise StoreError(f"cannot write {target}: {exc}") from None
        return StoredMedia(writer.sha256, content_type, writer.size, relpath)

    def clear_temporaries(self) -> int:
        """Remove partial downloads left by a killed run; returns how many were removed."""
        removed = 0
        for leftover in self.tmp_dir.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
                removed += 1
        return removed
