"""The one exception type that the command-line tools turn into a one-line message and exit 2."""

from __future__ import annotations


class MRWError(Exception):
    """Bad input or an unmet precondition the user can fix (not a bug in the toolkit).

    Subclass it per module (e.g. `FrameDecodeError`, `RunFileError`) so callers can catch
    precisely, while every CLI catches the base class once.
    """
