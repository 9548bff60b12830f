"""Progress bars that suit where they are shown: every long loop of the toolkit makes its bar
here (`progress_bar`).

On a terminal it is tqdm's bar, redrawn in place. Anywhere else (a log file, a pipe, CI)
redraws would pile up as carriage returns in one endless line, so the bar becomes a plain
line when it starts, one every `LOG_INTERVAL_S` seconds while it runs, and one when it ends.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

LOG_INTERVAL_S = 30.0
"""Seconds between progress lines when the output is not a terminal."""


class _Lines:
    """A text stream for tqdm that writes each redraw as one line (blank redraws dropped)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def is_terminal(stream: Any) -> bool:
    """Whether `stream` is an interactive terminal (False for files, pipes, closed streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def progress_bar(iterable: Iterable[Any] | None = None, **options: Any) -> Any:
    """A `tqdm` bar over `iterable` (or a manual one), on stderr unless `file=` says otherwise.

    Args:
        iterable: what to iterate over; None for a bar driven by `update(n)`.
        options: tqdm's keyword arguments (`total`, `desc`, `unit`, `disable`, `leave`, ...).
            Where the stream is not a terminal, `mininterval` becomes `LOG_INTERVAL_S`, the bar
            is ASCII at 80 columns and every redraw is a line of its own (see the module).

    Returns:
        The `tqdm` instance (iterate over it, or use it as a context manager).
    """
    from tqdm import tqdm

    stream = options.pop("file", None) or sys.stderr
    if not options.get("disable") and not is_terminal(stream):
        options.pop("dynamic_ncols", None)
        options.update(mininterval=LOG_INTERVAL_S, ascii=True, ncols=80)
        stream = _Lines(stream)
    return tqdm(iterable, file=stream, **options)
