"""Where a result came from: package versions, the project's git commit and file checksums,
recorded in every run record, collection report, dataset build and leaderboard submission.
Imports nothing heavy (no torch), so a collection machine records provenance without the
benchmark harness installed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from mrw.core.version import __version__

# The pretrained rows' model code, tokenizers and preprocessing are open_clip's and
# transformers' (the clip and xclip extras): their versions are part of a result too.
TRACKED_PACKAGES = (
    "torch",
    "torchvision",
    "datasets",
    "av",
    "numpy",
    "open_clip_torch",
    "transformers",
)


def versions() -> dict[str, str]:
    """Versions of Python, the toolkit and the installed packages results depend on.

    Returns:
        `{"python": "3.11.7", "mrw-toolkit": "0.1.0", "torch": "2.14.1", ...}`; a package
        that is not installed is left out. Read from package metadata: nothing is imported.
    """
    out = {"python": platform.python_version(), "mrw-toolkit": __version__}
    for package in TRACKED_PACKAGES:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    """The project's commit, with "-dirty" when tracked files differ from it.

    Returns:
        The 40-hex commit (plus "-dirty"), or None outside a git checkout or without git.
    """
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--"],
            cwd=root,
            capture_output=True,
            timeout=30,
            check=False,
        ).returncode
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty == 1 else commit or None


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes as stored (read in 1 MiB blocks; gzip is not undone).

    Raises:
        OSError: the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
