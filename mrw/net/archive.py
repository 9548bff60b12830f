"""Unpack a release archive that may come from a hostile mirror.

Python's `tarfile` filters (`filter="data"`) follow link chains and were bypassed by one
whose expanded path exceeds PATH_MAX (CVE-2025-4517). A release needs only regular files
and folders, so this reader accepts nothing else: every link, device, FIFO or other special
member is refused, every name must be a plain relative path whose resolved location stays
inside the target, and the total extracted size and member count are capped (a small gzip
can expand to gigabytes). Members are written with fixed modes into a fresh temporary
folder that is renamed into place only when everything was unpacked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from mrw.core.errors import MRWError
from mrw.core.untrusted import UnsafeInputError, confined

MAX_ARCHIVE_BYTES = 1 << 30  # the MRW release is a few MB
MAX_ARCHIVE_MEMBERS = 10_000
COPY_CHUNK = 1 << 20
_TMP_PREFIX = ".unpacking-"


class ArchiveError(MRWError):
    """An archive that is corrupt, or holds something a release never needs."""


def _member_path(archive: Path, member: tarfile.TarInfo) -> PurePosixPath:
    name = member.name
    if "\x00" in name or "\\" in name or not name.strip("/"):
        raise ArchiveError(f"{archive}: member {name!r} is not a plain relative path")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part == ".." for part in path.parts):
        raise ArchiveError(f"{archive}: member {name!r} is absolute or climbs out with '..'")
    return path


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "symbolic link"
    if member.islnk():
        return "hard link"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "FIFO"
    return "special member"


def safe_extract(
    archive: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_ARCHIVE_BYTES,
    max_members: int = MAX_ARCHIVE_MEMBERS,
) -> Path:
    """Unpack a tar archive (any compression `tarfile` reads) into the new folder `target`.

    Args:
        archive: the archive file.
        target: the folder to create; it must not exist yet. Its parent holds the temporary
            folder while unpacking; stale temporary folders of earlier, killed runs are
            removed first.
        max_bytes: the largest total size of the members (from their headers, enforced
            while copying).
        max_members: the most members accepted.

    Returns:
        `target`.

    Raises:
        ArchiveError: a link, device or other special member; an absolute name, `..`, or a
            name resolving outside `target`; a total over `max_bytes` or more than
            `max_members` members; a corrupt archive. Nothing is left behind.
    """
    target = Path(target)
    if target.exists():
        raise ArchiveError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f"{_TMP_PREFIX}{target.name}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = target.parent / f"{_TMP_PREFIX}{target.name}.{os.getpid()}"
    tmp.mkdir()
    try:
        _extract_into(Path(archive), tmp, max_bytes, max_members)
        os.replace(tmp, target)
    except (tarfile.TarError, EOFError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ArchiveError(f"{archive}: corrupt archive ({exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _extract_into(archive: Path, root: Path, max_bytes: int, max_members: int) -> None:
    total = 0
    with tarfile.open(archive, "r:*") as tar:
        for count, member in enumerate(tar, start=1):
            if count > max_members:
                raise ArchiveError(f"{archive}: more than {max_members:,} members")
            relative = _member_path(archive, member)
            if not (member.isfile() or member.isdir()):
                raise ArchiveError(f"{archive}: member {member.name!r} is a {_kind(member)}")
            try:
                path = confined(root, str(relative))
            except UnsafeInputError:
                raise ArchiveError(f"{archive}: member {member.name!r} resolves outside") from None
            if member.isdir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            total += member.size
            if total > max_bytes:
                raise ArchiveError(f"{archive}: unpacks to more than {max_bytes:,} bytes")
            path.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:  # pragma: no cover - isfile() members always have data
                raise ArchiveError(f"{archive}: member {member.name!r} has no data")
            # O_EXCL|O_NOFOLLOW: never write through anything already at that name.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            with source, contextlib.closing(os.fdopen(os.open(path, flags, 0o644), "wb")) as out:
                shutil.copyfileobj(source, out, COPY_CHUNK)
