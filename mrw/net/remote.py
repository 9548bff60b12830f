"""Resumable, verified downloads of release files (archives, TSVs, split lists).

A file is streamed into `NAME.part`; an interrupted transfer (dropped connection, killed
process) continues from where it stopped with an HTTP `Range` request, and a server that
ignores ranges simply restarts it. The finished file is checked against its published
checksum (SHA-256, or GitHub's git blob SHA-1 when that is what is known) before it is
renamed into place; a file with no published checksum gets its SHA-256 recorded on first
download and checked on every later one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from mrw.catalog import RemoteFile
from mrw.core.atomic import atomic_write
from mrw.core.errors import MRWError
from mrw.core.progress import progress_bar
from mrw.core.provenance import file_sha256
from mrw.core.untrusted import redact_url, redact_urls

CHUNK = 1 << 20  # hashing block
STREAM_CHUNK = 1 << 14  # network reads: a dropped connection loses at most this much
CHECKSUMS_FILE = "checksums.json"  # SHA-256 of files without a published checksum


class FetchError(MRWError):
    """A release file could not be downloaded or failed its checksum."""


def file_git_sha1(path: Path) -> str:
    """Git's blob id: SHA-1 of `blob <size>\\0` followed by the bytes."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksum_problem(path: Path, remote: RemoteFile, recorded: str | None) -> str | None:
    if remote.sha256 and file_sha256(path) != remote.sha256:
        return f"SHA-256 differs from the published {remote.sha256[:12]}..."
    if remote.git_sha1 and file_git_sha1(path) != remote.git_sha1:
        return f"git blob id differs from the published {remote.git_sha1[:12]}..."
    if not (remote.sha256 or remote.git_sha1) and recorded and file_sha256(path) != recorded:
        return f"SHA-256 differs from the one recorded at first download ({recorded[:12]}...)"
    return None


def network_reason(exc: BaseException, limit: int = 200) -> str:
    """The innermost cause of a requests error on one line, shortened at a word boundary
    (requests wraps urllib3's error, which wraps the socket's)."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    text = " ".join(str(getattr(inner, "reason", None) or inner).split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ..."


def _unresolvable(exc: BaseException) -> bool:
    """Whether a connection error is a failed host-name lookup (socket.gaierror inside)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror) or type(current).__name__ == "NameResolutionError":
            return True
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
        stack += [a for a in current.args if isinstance(a, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return False


def _load_recorded(folder: Path) -> dict[str, str]:
    try:
        return json.loads((folder / CHECKSUMS_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def fetch(
    remote: RemoteFile,
    folder: str | Path,
    *,
    session: object | None = None,
    attempts: int = 5,
    backoff_s: float = 0.5,
    timeout_s: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download `remote` into `folder/remote.name` (resuming a partial download), verified.

    Returns at once when a verified copy is already there. Raises `FetchError` on HTTP
    errors, on repeated network failures, and on a checksum mismatch (the bad copy is
    deleted so the next run starts clean).
    """
    import requests

    folder = Path(folder)
    target = folder / remote.name
    recorded = _load_recorded(folder)
    if target.is_file() and _checksum_problem(target, remote, recorded.get(remote.name)) is None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    http = session or requests.Session()
    last_error = ""
    for attempt in range(attempts):
        try:
            if _transfer(http, remote.url, part, timeout_s, progress):
                break
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            last_error = redact_urls(network_reason(exc))
            if _unresolvable(exc):  # no network (or no such host): retrying cannot help
                host = urlsplit(remote.url).hostname
                raise FetchError(
                    f"{redact_url(remote.url)}: cannot resolve {host} (no network, or a wrong "
                    "--mirror?)"
                ) from None
            time.sleep(min(backoff_s * 2.0**attempt, 10.0))  # then resume from what arrived
        except requests.RequestException as exc:  # a malformed URL, too many redirects, ...
            reason = redact_urls(" ".join(str(exc).split()))[:200]
            raise FetchError(f"{redact_url(remote.url)}: {reason}") from None
    else:
        raise FetchError(
            f"{redact_url(remote.url)}: download failed after {attempts} attempts ({last_error})"
        )

    problem = _checksum_problem(part, remote, recorded.get(remote.name))
    if problem:
        part.unlink(missing_ok=True)
        raise FetchError(
            f"{redact_url(remote.url)}: {problem}; the download was deleted, run again"
        )
    os.replace(part, target)
    if not (remote.sha256 or remote.git_sha1) and remote.name not in recorded:
        recorded[remote.name] = file_sha256(target)
        with atomic_write(folder / CHECKSUMS_FILE, "w") as handle:
            json.dump(recorded, handle, indent=2, sort_keys=True)
    return target


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _transfer(http: object, url: str, part: Path, timeout_s: float, progress: bool) -> bool:
    """One request continuing `part`; True when the file is complete."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with http.get(url, headers=headers, stream=True, timeout=timeout_s) as response:
        if response.status_code == 416 and offset:  # nothing left: the part is complete
            total = response.headers.get("Content-Range", "").rpartition("/")[2]
            if total.isdigit() and int(total) == offset:
                return True
            part.unlink()  # the part is longer than the file: start over
            return False
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                part.unlink()
                return False
            mode, total = "ab", int(match.group(3)) if match.group(3) != "*" else None
        elif response.status_code == 200:
            offset, mode = 0, "wb"  # the server ignored the range: start again
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        else:
            raise FetchError(
                f"{redact_url(url)}: HTTP {response.status_code} {response.reason or ''}".strip()
            )
        with (
            part.open(mode) as handle,
            progress_bar(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                desc=part.name[:-5],
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            for chunk in response.iter_content(STREAM_CHUNK):
                handle.write(chunk)
                bar.update(len(chunk))
            handle.flush()
            os.fsync(handle.fileno())
        size = part.stat().st_size
        if total is not None and size < total:
            import requests

            raise requests.exceptions.ChunkedEncodingError(
                f"connection closed at {size} of {total} bytes"
            )
        return True
