"""`mrw-leaderboard submit`'s client: upload a run pair to a server, wait for its score.

The token comes from a file or the `MRW_LEADERBOARD_TOKEN` environment variable, never from
the command line (which other users of the machine can read in the process list). Every
request is bounded by the time left of the client's `timeout_s`, and any text a server sends
is passed through `server_text` before it is shown.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from leaderboard.errors import LeaderboardError
from mrw.core.protocol import ProtocolCard, card_document
from mrw.core.untrusted import one_line

TOKEN_ENV = "MRW_LEADERBOARD_TOKEN"
DONE = ("scored", "failed")
TOKEN_FILE_MAX_BYTES = 4096  # a token is 80 characters; a file must not be read without end
CONNECT_TIMEOUT_S = 10.0
MIN_REQUEST_TIMEOUT_S = 1.0  # even past the deadline (`status --timeout 0` looks once)
SERVER_TEXT_MAX_CHARS = 300


def server_text(value: object, max_chars: int = SERVER_TEXT_MAX_CHARS) -> str:
    """Text from a server, safe to print: one line, without control or format characters.

    A server is not trusted: a name, dataset, split, status or error it sends could carry
    terminal escape sequences, BEL, newlines that forge extra output lines, or bidirectional
    overrides that reorder what is shown. Control characters become spaces, format characters
    (Unicode category Cf: bidi overrides, zero-width) are dropped and whitespace is collapsed
    (`mrw.core.untrusted.one_line`, which also hides URL credentials); the text is cut to
    `max_chars` characters, marked with an ellipsis.

    Args:
        value: what the server sent (any JSON value; non-strings are shown as `str()` does).
        max_chars: the longest text returned.

    Returns:
        The printable text.
    """
    text = one_line(str(value))
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def check_run_file(path: Path) -> Path:
    """`path` if it is a regular file; else a one-line error saying what it is instead.

    Raises:
        LeaderboardError: no such file, or not a regular file (a folder, a device, a FIFO).
    """
    if not path.exists():
        raise LeaderboardError(f"{path}: no such file")
    if not path.is_file():
        raise LeaderboardError(f"{path}: not a regular file")
    return path


class NotScoredError(LeaderboardError):
    """A submission still queued (or being scored) when `Client.wait` gave up waiting."""


def card_field(card: ProtocolCard) -> str:
    """The `protocol_card` form field of an upload: the card's `card_document` as compact
    JSON (what `leaderboard.server.declared.protocol_card` reads)."""
    return json.dumps(card_document(card), separators=(",", ":"))


def read_token(token_file: str | os.PathLike[str] | None) -> str:
    """The team token from `token_file`, else from `$MRW_LEADERBOARD_TOKEN`.

    At most `TOKEN_FILE_MAX_BYTES` + 1 bytes of the file are read.

    Raises:
        LeaderboardError: the file cannot be read, is empty or larger than
            `TOKEN_FILE_MAX_BYTES`, or neither source is given.
    """
    if token_file is not None:
        try:
            with open(token_file, "rb") as handle:  # bounded: /dev/zero has no end
                data = handle.read(TOKEN_FILE_MAX_BYTES + 1)
            token = data.decode("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise LeaderboardError(f"{token_file}: cannot read the token ({exc})") from None
        if len(data) > TOKEN_FILE_MAX_BYTES:
            raise LeaderboardError(
                f"{token_file}: over {TOKEN_FILE_MAX_BYTES} bytes, not a token file (it must "
                "hold the token alone, as `team add` printed it)"
            )
        if not token:
            raise LeaderboardError(f"{token_file}: the token file is empty")
        return _one_token(token, token_file)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise LeaderboardError(f"no token: pass --token-file FILE or set {TOKEN_ENV}")
    return _one_token(token, f"${TOKEN_ENV}")


def _one_token(token: str, source: str | os.PathLike[str]) -> str:
    """`token` if it is one word of printable ASCII (what `team add` prints); the error never
    repeats it, so a secret cannot reach a terminal or a CI log."""
    if not all("!" <= character <= "~" for character in token):
        raise LeaderboardError(
            f"{source}: must hold the token alone (one word, printable ASCII), as `team add` "
            "printed it"
        )
    return token


def _field(document: dict[str, Any], *path: str, kind: type) -> Any:
    """`document[path[0]][path[1]]...` if it is a `kind` (never a bool for int); else a
    one-line error: a server that answers something else is not a leaderboard server."""
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise LeaderboardError(
            f"unexpected answer from the server: no {kind.__name__} {'.'.join(path)!r}"
        )
    return value


def _check(response: Any) -> dict[str, Any]:
    """The JSON object of a successful (2xx) response; the server's one-line error otherwise
    (redirects are not followed: the token is for this server only)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not 200 <= response.status_code < 300:
        message = body.get("error") if isinstance(body, dict) else None
        retry = response.headers.get("retry-after")
        hint = f" (retry after {server_text(retry, 40)} s)" if retry else ""
        reason = server_text(message if isinstance(message, str) else response.reason_phrase)
        raise LeaderboardError(f"server refused ({response.status_code}): {reason}{hint}")
    if not isinstance(body, dict):
        raise LeaderboardError("unexpected answer from the server: not a JSON object")
    return body


class NoAnswerError(LeaderboardError):
    """The server did not answer before the client's deadline (`timeout_s`) passed."""


class Client:
    """A team's HTTP session with one leaderboard server, all of it within `timeout_s`.

    The deadline starts when the client is made: every request (the upload included) waits
    at most the time left, or `MIN_REQUEST_TIMEOUT_S` when less is left (each network
    operation: connecting, sending, each read), and `wait` polls until then, so a server that
    accepts and never answers ends the session at the deadline.
    """

    def __init__(self, server: str, token: str, timeout_s: float = 3600.0) -> None:
        import httpx

        self._httpx = httpx
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.http = httpx.Client(
            base_url=server.rstrip("/"), headers={"Authorization": f"Bearer {token}"}
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        left = max(self.deadline - time.monotonic(), MIN_REQUEST_TIMEOUT_S)
        timeout = self._httpx.Timeout(left, connect=min(CONNECT_TIMEOUT_S, left))
        try:
            return _check(self.http.request(method, url, timeout=timeout, **kwargs))
        except self._httpx.TimeoutException:
            raise NoAnswerError(
                f"no answer from {self.http.base_url} within --timeout {self.timeout_s:g} s"
            ) from None
        except self._httpx.HTTPError as exc:
            raise LeaderboardError(f"cannot talk to {self.http.base_url}: {exc}") from None

    def info(self) -> dict[str, Any]:
        """The server's dataset, splits and limits."""
        return self._request("GET", "/api/info")

    def team(self) -> dict[str, Any]:
        """The token's team and its use of the limits (`GET /api/team`).

        Raises:
            LeaderboardError: a bad token (401), or the server is unreachable.
        """
        return self._request("GET", "/api/team")

    def upload(
        self,
        t2v: Path,
        v2t: Path,
        name: str,
        description: str = "",
        split: str | None = None,
        declared: Mapping[str, str] | None = None,
    ) -> int:
        """Upload a run pair (streamed from disk); returns the submission id.

        `declared`: the form fields of `leaderboard.server.declared.FIELDS` (code URL and
        commit, checkpoint SHA-256, training data, protocol card JSON); empty ones are left out.

        Raises:
            LeaderboardError: a file over the server's cap, or the server refused (401 bad
            token, 409 duplicate, 413 too large, 429 limit reached, 400 malformed).
        """
        self.team()  # a bad token is reported now, not after sending the files
        cap = _field(self.info(), "limits", "max_upload_bytes", kind=int)
        for path in (t2v, v2t):
            if check_run_file(path).stat().st_size > cap:
                raise LeaderboardError(f"{path}: larger than the server's cap of {cap} bytes")
        data = {"name": name, "description": description}
        if split:
            data["split"] = split
        data.update({key: value for key, value in (declared or {}).items() if value})
        with t2v.open("rb") as t2v_file, v2t.open("rb") as v2t_file:
            files = {"t2v": ("t2v.run", t2v_file), "v2t": ("v2t.run", v2t_file)}
            answer = self._request("POST", "/api/submissions", data=data, files=files)
        return _field(answer, "id", kind=int)

    def status(self, submission_id: int) -> dict[str, Any]:
        """The submission's status document (`GET /api/submissions/{id}`).

        Raises:
            LeaderboardError: The server is unreachable or refused (401, 404).
        """
        status = self._request("GET", f"/api/submissions/{int(submission_id)}")
        if _field(status, "status", kind=str) == "scored":
            _field(status, "metrics", kind=dict)
        return status

    def detail(self, submission_id: int) -> dict[str, Any]:
        """The submission's per-query results (`GET /api/submissions/{id}/detail`): per
        direction, query id -> rank of its first relevant document (None: not in the run).

        Raises:
            LeaderboardError: the server refused (401, 403 a test-phase submission: aggregates
                only, 404, 409 not scored yet) or is unreachable.
        """
        document = self._request("GET", f"/api/submissions/{int(submission_id)}/detail")
        _field(document, "details", kind=dict)
        return document

    def selection(self, ids: list[int] | None = None) -> dict[str, Any]:
        """The team's selection for the private ranking; with `ids`, replace it first
        (`PUT /api/selection`), then read it back (`GET /api/selection`).

        Raises:
            LeaderboardError: the server refused (401, 404 no test phase, 409 not allowed:
                too many, not the team's scored test-phase submissions, already revealed).
        """
        if ids is not None:
            self._request("PUT", "/api/selection", json={"ids": [int(i) for i in ids]})
        document = self._request("GET", "/api/selection")
        _field(document, "selected", kind=list)
        return document

    def wait(
        self, submission_id: int, on_poll: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        """Poll until the submission is scored or failed (or the client's deadline passes);
        returns its final status document.

        Raises:
            NotScoredError: not done by the deadline (`timeout_s` after the client was made).
            NoAnswerError: the server never answered before the deadline.
            LeaderboardError: the server is unreachable or refused.
        """
        delay, answered = 0.2, False
        while True:
            try:
                status = self.status(submission_id)
                answered = True
            except NoAnswerError:
                if not answered:
                    raise
                status = {"status": "queued"}  # it answered before: the deadline passed
            if on_poll is not None:
                on_poll(status)
            if status["status"] in DONE:
                return status
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise NotScoredError(
                    f"submission #{submission_id} not scored within {self.timeout_s:g} s; "
                    "it stays queued on the server"
                )
            time.sleep(min(delay, left))
            delay = min(2.0, delay * 1.5)
