"""Write files so that a crash or a kill never leaves a half-written result behind.

A result is written under a temporary name beside it, `.{name}.{pid}-{random}.tmp`, and
renamed over the target only when complete. A kill leaves that temporary file or folder
behind; the next write of the same target removes it (the pid in its name tells a dead
writer's leftovers from those of a write still running). A folder is never swapped over a
user's file, nor over a folder the caller did not write.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from mrw.core.errors import MRWError

TMP_SUFFIX = ".tmp"


class OutputPathError(MRWError):
    """An output path that is taken by something this write must not replace."""


def _umask() -> int:
    """The process umask, so results get the modes `open()`/`mkdir()` would give (not 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _writer_alive(pid_text: str) -> bool:
    try:
        pid = int(pid_text)
    except ValueError:
        return False  # not one of ours (or an older naming): nobody is writing it
    if pid == os.getpid():
        return True  # a write of this process (another thread) may still be running
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files and folders that killed writes of `target` left behind.

    Args:
        target: the file or folder a write is about to produce.

    Returns:
        The paths removed (leftovers of writers that are no longer running).
    """
    target = Path(target)
    prefix = f".{target.name}."
    removed = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(TMP_SUFFIX)):
            continue
        if _writer_alive(name[len(prefix) :].split("-", 1)[0]):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        removed.append(path)
    return removed


def check_output_path(path: str | os.PathLike[str], *, folder: bool) -> Path:
    """Check, before any work, that `path` can be written as a folder (or a file).

    Nothing is created. Use it for outputs written at the end of long work, so that a path
    that cannot be written fails at once rather than after the work.

    Args:
        path: the output path.
        folder: whether the output is a folder (else a file).

    Returns:
        `path` as a `Path`.

    Raises:
        OutputPathError: `path` is a file where a folder is wanted (or the reverse), one of
            its parents is a file, or the nearest existing parent is not writable.
    """
    target = Path(path)
    if folder and target.exists() and not target.is_dir():
        raise OutputPathError(f"{target} exists and is not a folder; choose another output")
    if not folder and target.is_dir():
        raise OutputPathError(f"{target} is a folder; expected a file path")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputPathError(f"cannot write {target}: {parent} is a file, not a folder")
    try:  # a real probe: permission bits say nothing for root or on special file systems
        fd, probe = tempfile.mkstemp(prefix=".mrw-probe-", dir=parent)
    except OSError as exc:
        raise OutputPathError(f"cannot write in {parent}: {exc.strerror}") from None
    os.close(fd)
    os.unlink(probe)
    return target


def check_output_file(path: str | os.PathLike[str], replaceable: Callable[[Path], bool]) -> Path:
    """Check, before any work, that the file `path` may be written: it is free, or a regular
    file that `replaceable` recognises as an earlier output of the same command.

    Nothing is created. A symlink, FIFO, device node or folder at `path` is never replaced,
    nor a user's file.

    Args:
        path: the output file.
        replaceable: whether an existing regular file holds an earlier output of this command.

    Returns:
        `path` as a `Path`.

    Raises:
        OutputPathError: something this command must not replace is at `path`, or
            `check_output_path` refuses it.
    """
    target = Path(path)
    if os.path.lexists(target):
        if target.is_symlink() or not target.is_file():
            raise OutputPathError(
                f"{target} exists and is not a regular file; choose another output"
            )
        if not replaceable(target):
            raise OutputPathError(
                f"{target} exists and is not an earlier output of this command; "
                "choose another output or remove it"
            )
    return check_output_path(target, folder=False)


def file_starts_with(path: Path, prefix: bytes) -> bool:
    """Whether the file at `path` begins with `prefix` (False if it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(prefix)) == prefix
    except OSError:
        return False


def _make_parent(target: Path) -> None:
    """Create `target`'s folder, or raise `OutputPathError` saying why it cannot be."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputPathError(f"{target.parent} is not a folder") from None
    except OSError as exc:
        raise OutputPathError(f"cannot create {target.parent}: {exc.strerror}") from None


def _check_parent(target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        raise OutputPathError(f"{target} is a folder; expected a file path")
    _make_parent(target)
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write in {target.parent}: permission denied")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside `path`; rename it over `path` only if the block succeeds.

    Raises:
        OutputPathError: `path` is a folder, or its parent cannot be created or written.
    """
    target = Path(path)
    _check_parent(target)
    remove_stale(target)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.{os.getpid()}-", suffix=TMP_SUFFIX, dir=target.parent
        )
    except OSError as exc:
        raise OutputPathError(f"cannot write in {target.parent}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def is_empty_dir(path: Path) -> bool:
    """Whether `path` is a folder with nothing in it."""
    return path.is_dir() and not any(path.iterdir())


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike[str], replaceable: Callable[[Path], bool] = is_empty_dir
) -> Iterator[Path]:
    """Build a directory under a temporary name; swap it into place only when complete.

    Args:
        path: the folder to produce.
        replaceable: whether an existing folder at `path` may be replaced (e.g. it holds an
            earlier result of the same command); by default only an empty one.

    Raises:
        OutputPathError: `path` is a file, has no name of its own (`""`, `.`), or a folder
            `replaceable` refuses (checked before
            anything is written; the user's file or folder is never moved).
    """
    target = Path(path)
    if target.name in ("", ".", ".."):  # a name is needed for the temporary sibling
        raise OutputPathError(f"{str(path)!r} names no folder; give the output folder a name")
    old = target.with_name(f".{target.name}.old")
    if not target.exists() and old.is_dir():  # killed between the two renames of a swap
        os.replace(old, target)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise OutputPathError(f"{target} exists and is not a folder; choose another output")
    if target.exists() and not replaceable(target):
        raise OutputPathError(
            f"{target} exists and is not an earlier output of this command; "
            "choose another output or remove it"
        )
    _make_parent(target)
    remove_stale(target)
    try:
        tmp = Path(
            tempfile.mkdtemp(
                prefix=f".{target.name}.{os.getpid()}-", suffix=TMP_SUFFIX, dir=target.parent
            )
        )
    except OSError as exc:
        raise OutputPathError(f"cannot write in {target.parent}: {exc.strerror}") from None
    try:
        tmp.chmod(0o777 & ~_umask())
        yield tmp
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
