"""Errors of the leaderboard: each names the file and the line so a participant can fix it."""

from __future__ import annotations

import os

from mrw.core.errors import MRWError


class LeaderboardError(MRWError):
    """Base class of every error the leaderboard reports to a user."""


class FileLineError(LeaderboardError):
    """A problem at a known line of an input file (`line` is 1-based; 0: the whole file)."""

    def __init__(self, path: str | os.PathLike[str], line: int, message: str) -> None:
        self.path = os.fspath(path)
        self.line = int(line)
        self.reason = message
        where = f"line {self.line}: " if self.line > 0 else ""
        super().__init__(f"{self.path}: {where}{message}")


class RunFileError(FileLineError):
    """A ranking (TREC run) file is malformed or does not match the ground truth."""


class QrelsError(FileLineError):
    """A ground-truth (TREC qrels) file is malformed."""


class BoardError(LeaderboardError):
    """The submission board cannot accept or render a submission."""
