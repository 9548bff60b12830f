"""`submit` and `status` against servers that never answer or answer with hostile text, and with
token and run files that are not what they should be (issue 28, item 15)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("httpx", reason="the server extra is not installed")

from leaderboard.cli import main
from leaderboard.metrics import combine, ranks_to_metrics
from leaderboard.server.client import TOKEN_FILE_MAX_BYTES, server_text

TOKEN = "mrwlb_key_secret-token-value"
HOSTILE_TEXT = "m\x1b[2J\x07\nscored #99 'forged' on evil\u202e[bold red]x[/]\x9b31m"
METRICS = combine(ranks_to_metrics(np.array([1, 2]), 4), ranks_to_metrics(np.array([1]), 4))


@pytest.fixture
def runs(tmp_path: Path) -> list[str]:
    for name in ("t2v.run", "v2t.run"):
        (tmp_path / name).write_text("s0 Q0 v0 1 1.0 m\n")
    return [str(tmp_path / "t2v.run"), str(tmp_path / "v2t.run")]


@pytest.fixture
def silent() -> Iterator[str]:
    """A port whose connections the kernel accepts (the backlog) and nobody ever answers."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


class Answers(BaseHTTPRequestHandler):
    """Answers GETs from `answers` (path -> JSON); a POST is read, then answered with
    `post` or, when it is None, held without an answer until the client gives up."""

    answers: dict[str, object] = {}
    post: object | None = None
    release = threading.Event()

    def _send(self, body: object, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        answer = self.answers.get(self.path)
        self._send(
            answer if answer is not None else {"error": HOSTILE_TEXT}, 200 if answer else 404
        )

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.post is None:
            self.release.wait(60)  # no answer (bounded, so the test's thread ends)
            return
        self._send(self.post, 202)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[type[Answers]]:
    Answers.answers = {
        "/api/team": {"team": "t"},
        "/api/info": {"limits": {"max_upload_bytes": 1 << 20}},
    }
    Answers.post, Answers.release = None, threading.Event()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Answers.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield Answers
    Answers.release.set()
    httpd.shutdown()
    httpd.server_close()


def _timed(argv: list[str]) -> tuple[int, float]:
    started = time.monotonic()
    code = main(argv)
    return code, time.monotonic() - started


def test_timeout_bounds_a_server_that_never_answers(
    silent: str, runs: list[str], monkeypatch, capsys
) -> None:
    monkeypatch.setenv("MRW_LEADERBOARD_TOKEN", TOKEN)
    code, seconds = _timed(["submit", "--server", silent, "--name", "m", "--timeout", "2", *runs])
    err = capsys.readouterr().err
    assert code == 2 and seconds < 15, (seconds, err)  # was 600 s per request
    assert err.strip().splitlines()[-1] == f"error: no answer from {silent} within --timeout 2 s"
    code, seconds = _timed(["status", "--server", silent, "--timeout", "2", "7"])
    err = capsys.readouterr().err
    assert code == 2 and seconds < 15 and "no answer from" in err, (seconds, err)


def test_timeout_bounds_an_upload_never_answered(
    answering: type[Answers], runs: list[str], monkeypatch, capsys
) -> None:
    monkeypatch.setenv("MRW_LEADERBOARD_TOKEN", TOKEN)
    argv = ["submit", "--server", answering.url, "--name", "m", "--timeout", "2", *runs]
    code, seconds = _timed(argv)
    err = capsys.readouterr().err
    assert code == 2 and seconds < 15, (seconds, err)
    assert "no answer from" in err and "within --timeout 2 s" in err


def test_text_from_the_server_is_filtered_before_it_is_printed(
    answering: type[Answers], runs: list[str], monkeypatch, capsys
) -> None:
    monkeypatch.setenv("MRW_LEADERBOARD_TOKEN", TOKEN)
    answering.post = {"id": 7, "status": "queued"}
    scored = {"status": "scored", "metrics": METRICS.to_json(), "name": HOSTILE_TEXT,
              "dataset": HOSTILE_TEXT, "split": "test\u200b\u2066"}  # fmt: skip
    answering.answers["/api/submissions/7"] = scored
    assert main(["submit", "--server", answering.url, "--name", "m", *runs]) == 0
    out, err = capsys.readouterr()
    last = out.strip().splitlines()[-1]
    assert (
        last
        == f"scored #7 '{server_text(HOSTILE_TEXT, 200)}' on {server_text(HOSTILE_TEXT, 100)}/test"
    )
    assert "scored #99" not in out.splitlines()[0]  # no line of the server's making
    for character in ("\x1b", "\x07", "\x9b", "\u202e", "\u200b", "\u2066"):
        assert character not in out + err

    answering.answers["/api/submissions/7"] = {**scored, "name": "m", "phase": "test"}
    assert main(["submit", "--server", answering.url, "--name", "m", *runs]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("scored #7 'm' on ")
    assert last.endswith("/test (public part of the test queries)")

    answering.answers["/api/submissions/7"] = {"status": "failed", "reason": HOSTILE_TEXT}
    assert main(["status", "--server", answering.url, "7"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip().splitlines()[-1] == f"error: submission #7 failed: {server_text(HOSTILE_TEXT)}"
    )
    assert main(["status", "--server", answering.url, "8"]) == 2  # a 404 with hostile text
    err = capsys.readouterr().err
    assert (
        err.strip().splitlines()[-1] == f"error: server refused (404): {server_text(HOSTILE_TEXT)}"
    )
    assert server_text("x" * 1000, 50) == "x" * 49 + "…"


@pytest.mark.parametrize("kind", ["/dev/zero", "a large file"])
def test_a_token_file_is_read_only_up_to_its_cap(kind: str, silent: str, runs, tmp_path, capsys):
    token_file = Path(kind) if kind.startswith("/dev") else tmp_path / "big.token"
    if not token_file.exists():
        token_file.write_bytes(b"m" * (TOKEN_FILE_MAX_BYTES + 1))
    code = main(["submit", "--server", silent, "--token-file", str(token_file), *runs])
    err = capsys.readouterr().err
    assert code == 2 and f"over {TOKEN_FILE_MAX_BYTES} bytes, not a token file" in err


def test_a_missing_run_file_is_named_as_missing(silent: str, runs, tmp_path, capsys) -> None:
    for path, message in (
        (tmp_path / "gone.run", "no such file"),
        (tmp_path, "not a regular file"),
    ):
        for argv in ([str(path), runs[1]], [runs[0], str(path)]):
            code = main(["submit", "--server", silent, *argv])
            err = capsys.readouterr().err
            assert code == 2 and err.strip() == f"error: {path}: {message}", err
