"""Checks for values that come from outside: ids that become file names, URLs, free text.

Every importer, downloader and renderer goes through these few functions, so one rule holds
everywhere: an id is never a path, a path read or written stays inside its folder, a URL is
never logged or recorded with its credentials, and text shown to a person carries no
control characters (terminal escape sequences, newlines that break a table) and no format
characters (bidirectional overrides that reorder what is shown, zero-width characters).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mrw.core.errors import MRWError

MAX_ID_CHARS = 256
# C0 and C1 control characters and DEL (ESC starts terminal escape sequences).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# scheme://user[:password]@ inside free text (error messages, logs).
_USERINFO_IN_TEXT = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]*@")


class UnsafeInputError(MRWError):
    """An id, path or value from outside that would escape its folder or break a format."""


def check_id(value: str, what: str = "id") -> str:
    """`value` unchanged if it can be a file name inside a folder; else `UnsafeInputError`.

    Refused: empty, longer than `MAX_ID_CHARS`, `.` or `..`, containing `/`, `\\`, NUL or any
    control character. Ids become file names (`{id}.mp4`, media store keys, run folders), so
    an id that is a path would read or write outside its folder.

    Args:
        value: the id as read from a release file, a dataset row or a command line.
        what: how to name it in the error ("video id", "run id", ...).

    Returns:
        `value`, unchanged.

    Raises:
        UnsafeInputError: the id is not a plain file name.
    """
    if not isinstance(value, str) or not value:
        raise UnsafeInputError(f"empty {what}")
    shown = repr(value[:60])
    if len(value) > MAX_ID_CHARS:
        raise UnsafeInputError(f"{what} {shown}... is longer than {MAX_ID_CHARS} characters")
    if value in (".", "..") or "/" in value or "\\" in value or _CONTROL.search(value):
        raise UnsafeInputError(
            f"{what} {shown} is not a plain name (no '/', '\\', '..' or control characters)"
        )
    return value


def is_safe_id(value: str) -> bool:
    """Whether `check_id` accepts `value`."""
    try:
        check_id(value)
    except UnsafeInputError:
        return False
    return True


def confined(folder: str | os.PathLike[str], name: str | os.PathLike[str]) -> Path:
    """`folder / name` with symlinks resolved, if it stays inside `folder`; else an error.

    Args:
        folder: the folder every result must stay in (resolved too).
        name: a relative path (an absolute one or one climbing out with `..` is refused).

    Returns:
        The resolved path (it need not exist).

    Raises:
        UnsafeInputError: the resolved path is outside `folder`.
    """
    root = Path(folder).resolve()
    path = (root / name).resolve()
    if path != root and root not in path.parents:
        raise UnsafeInputError(f"{os.fspath(name)!r} points outside {root}")
    return path


def redact_url(url: str) -> str:
    """`url` with any `user:password@` replaced by `***@` (for logs, errors and records).

    Args:
        url: any string; one that does not parse as a URL is returned with credentials in
            text form redacted (see `redact_urls`).

    Returns:
        The URL safe to print or store.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_urls(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def redact_urls(text: str) -> str:
    """Every `scheme://user:password@` inside free text replaced by `scheme://***@`."""
    return _USERINFO_IN_TEXT.sub(r"\1***@", text)


def strip_control(text: str) -> str:
    """`text` with control characters (Unicode category Cc: escape sequences, newlines, NUL)
    replaced by spaces and format characters (category Cf: the bidirectional embeddings and
    overrides U+202A-U+202E and isolates U+2066-U+2069, zero-width characters) removed.

    The one cleaning of untrusted text shown to a person (Unicode Standard Annex #9 for the
    bidirectional controls; the Trojan Source attack, CVE-2021-42574)."""
    text = _CONTROL.sub(" ", text)
    if text.isascii():  # no format character is ASCII
        return text
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def clean_text(text: str, what: str, max_chars: int) -> str:
    """Free text for display: control characters become spaces, format characters are removed
    (`strip_control`), whitespace is collapsed.

    Args:
        text: a name, team or description given by a user.
        what: how to name it in the error.
        max_chars: the longest accepted value (after cleaning).

    Returns:
        The cleaned text.

    Raises:
        UnsafeInputError: the cleaned text is longer than `max_chars`.
    """
    cleaned = " ".join(strip_control(text).split())
    if len(cleaned) > max_chars:
        raise UnsafeInputError(f"{what} is {len(cleaned):,} characters; at most {max_chars}")
    return cleaned


def check_http_url(url: str, what: str) -> str:
    """`url` unchanged if it is an absolute http(s) URL with a host and no control or format
    character (`strip_control`); else `UnsafeInputError`.

    The error shows the URL with its credentials redacted.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise UnsafeInputError(f"{what} {redact_url(url)!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or strip_control(url) != url:
        raise UnsafeInputError(
            f"{what} must be an http(s):// URL with a host, got {redact_url(url)[:200]!r}"
        )
    return url


def one_line(text: str) -> str:
    """`text` safe to print on one terminal line: control characters and credentials removed."""
    return redact_urls(" ".join(strip_control(text).split()))
