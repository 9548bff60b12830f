"""System programs some tests need: each such test skips, naming the program and the Debian
package that provides it, when the program is not on PATH (a fresh machine has none of them)."""

from __future__ import annotations

import shutil

import pytest

# command -> the Debian package that installs it
DEBIAN_PACKAGES = {
    "ffmpeg": "ffmpeg",
    "git": "git",
    "chromium": "chromium chromium-driver",
    "initdb": "postgresql",
    "bash": "bash",
}


def skip_reason(command: str) -> str:
    """Why a test that needs `command` is skipped: `ffmpeg not installed (Debian: apt-get
    install ffmpeg)`."""
    return f"{command} not installed (Debian: apt-get install {DEBIAN_PACKAGES[command]})"


def needs(command: str) -> pytest.MarkDecorator:
    """A `skipif` mark for a test that runs `command` (one of `DEBIAN_PACKAGES`)."""
    return pytest.mark.skipif(shutil.which(command) is None, reason=skip_reason(command))


def require(command: str) -> str:
    """The path of `command`, or skip the calling test (with `skip_reason`)."""
    found = shutil.which(command)
    if found is None:
        pytest.skip(skip_reason(command))
    return found
