"""Progress bars (`mrw.core.progress.progress_bar`): redrawn in place on a terminal, plain lines
(a few, not one per update) anywhere else, e.g. in a log file."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from mrw.core.progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_gets_lines_not_redraws() -> None:
    log = io.StringIO()
    for _ in progress_bar(range(100_000), desc="work", file=log):
        pass
    text = log.getvalue()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert 1 <= len(lines) <= 3 and lines[-1].startswith("work: 100%")


def test_a_terminal_gets_the_redrawn_bar() -> None:
    screen = _Terminal()
    with progress_bar(total=3, desc="work", file=screen) as bar:
        bar.update(3)
    assert "\r" in screen.getvalue()


def test_a_command_logged_to_a_file_writes_no_carriage_returns(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mrw.cli", "toy", "--out", str(tmp_path / "t"), "--num-pairs", "40"],
        capture_output=True,  # bytes: text mode would turn carriage returns into newlines
        timeout=300,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert b"writing train" in done.stderr and b"\r" not in done.stderr
    assert len(done.stderr.splitlines()) < 20
