"""`mrw-leaderboard submit` and `status` against a loopback server that never finishes scoring:
the timeout message and the command that shows the submission later, and `--token` refused
without repeating the secret."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("httpx", reason="the server extra is not installed")

from leaderboard.cli import main

SUBMISSION_ID = 7
TOKEN = "mrwlb_secret-token-value"


class QueuedForever(BaseHTTPRequestHandler):
    """The server's API as seen by a team whose submission #7 stays queued."""

    seen_tokens: list[str] = []

    def _reply(self, body: dict) -> None:
        self.seen_tokens.append(self.headers.get("Authorization", ""))
        data = json.dumps(body).encode()
        self.send_response(202 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/api/info":
            self._reply({"limits": {"max_upload_bytes": 1 << 20}})
        elif self.path == "/api/team":
            self._reply({"team": "t"})
        else:
            assert self.path == f"/api/submissions/{SUBMISSION_ID}", self.path
            self._reply({"id": SUBMISSION_ID, "status": "queued"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._reply({"id": SUBMISSION_ID, "status": "queued"})

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), QueuedForever)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    QueuedForever.seen_tokens.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def runs(tmp_path: Path) -> list[str]:
    for name in ("t2v.run", "v2t.run"):
        (tmp_path / name).write_text("s0 Q0 v0 1 1.0 m\n")
    return [str(tmp_path / "t2v.run"), str(tmp_path / "v2t.run")]


def test_timeout_names_the_command_that_shows_the_submission_later(
    server: str, runs: list[str], monkeypatch, capsys
) -> None:
    monkeypatch.setenv("MRW_LEADERBOARD_TOKEN", TOKEN)
    later = f"`mrw-leaderboard status --server {server} {SUBMISSION_ID}` shows it later"
    code = main(["submit", "--server", server, "--name", "m", "--timeout", "3", *runs])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"error: submission #{SUBMISSION_ID} not scored within 3 s;" in err
    assert "it stays queued on the server" in err and later in err

    code = main(["status", "--server", server, "--timeout", "0", str(SUBMISSION_ID)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.strip().splitlines()[-1] == (
        f"error: submission #{SUBMISSION_ID} not scored within 0 s; "
        f"it stays queued on the server; {later}"
    )
    assert set(QueuedForever.seen_tokens) == {f"Bearer {TOKEN}"}


@pytest.mark.parametrize("command", ["submit", "status"])
@pytest.mark.parametrize("form", ["--token SECRET", "--token=SECRET", "--token"])
def test_a_token_on_the_command_line_is_refused_without_echoing_it(
    server: str, runs: list[str], command: str, form: str, capsys
) -> None:
    token_args = form.replace("SECRET", TOKEN).split()
    tail = ["--name", "m", *runs] if command == "submit" else [str(SUBMISSION_ID)]
    for argv in (
        [command, *token_args, "--server", server, *tail],
        [command, "--server", server, *tail, *token_args],
    ):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 2 and out == "" and len(err.splitlines()) == 1, err
        assert err.startswith(f"error: mrw-leaderboard {command}: tokens are read from ")
        assert "--token-file FILE or $MRW_LEADERBOARD_TOKEN, never from the command line" in err
        assert TOKEN not in err
    assert QueuedForever.seen_tokens == []  # nothing was sent


class Hostile(BaseHTTPRequestHandler):
    """Answers each (method, path) with what `answers` holds: (status, body, extra headers)."""

    answers: dict[tuple[str, str], tuple[int, bytes, dict[str, str]]] = {}

    def _answer(self) -> None:
        if self.command == "POST":
            self.rfile.read(int(self.headers["Content-Length"]))
        answers = {("GET", "/api/team"): (200, b'{"team": "t"}', {}), **self.answers}
        status, body, headers = answers.get(
            (self.command, self.path), (404, b'{"error": "no"}', {})
        )
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *_: object) -> None:
        pass


INFO = (200, b'{"limits": {"max_upload_bytes": 1048576}}', {})
ACCEPTED = (202, b'{"id": 7, "status": "queued"}', {})
HOSTILE = {
    "team is HTML": {("GET", "/api/team"): (200, b"<html>hello</html>", {})},
    "info is HTML": {("GET", "/api/info"): (200, b"<html>hello</html>", {})},
    "info is a list": {("GET", "/api/info"): (200, b"[1, 2]", {})},
    "no cap": {("GET", "/api/info"): (200, b'{"limits": {}}', {})},
    "cap is text": {("GET", "/api/info"): (200, b'{"limits": {"max_upload_bytes": "1"}}', {})},
    "no id": {("GET", "/api/info"): INFO, ("POST", "/api/submissions"): (202, b"{}", {})},
    "id is text": {
        ("GET", "/api/info"): INFO,
        ("POST", "/api/submissions"): (202, b'{"id": "7"}', {}),
    },
    "id is huge": {
        ("GET", "/api/info"): INFO,
        ("POST", "/api/submissions"): (202, b'{"id": 1e999}', {}),
    },
    "redirect": {
        ("GET", "/api/info"): INFO,
        ("POST", "/api/submissions"): (307, b"", {"Location": "http://127.0.0.1:9/steal"}),
    },
    "status without status": {
        ("GET", "/api/info"): INFO,
        ("POST", "/api/submissions"): ACCEPTED,
        ("GET", "/api/submissions/7"): (200, b'{"id": 7}', {}),
    },
    "status is a list": {
        ("GET", "/api/info"): INFO,
        ("POST", "/api/submissions"): ACCEPTED,
        ("GET", "/api/submissions/7"): (200, b"[]", {}),
    },
    "scored with no metrics": {
        ("GET", "/api/info"): INFO,
        ("POST", "/api/submissions"): ACCEPTED,
        ("GET", "/api/submissions/7"): (200, b'{"status": "scored"}', {}),
    },
    "scored without metrics": {
        ("GET", "/api/info"): INFO,
        ("POST", "/api/submissions"): ACCEPTED,
        ("GET", "/api/submissions/7"): (200, b'{"status": "scored", "metrics": [1]}', {}),
    },
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_server_that_answers_nonsense_gets_one_line_and_exit_2(
    case: str, runs: list[str], monkeypatch, capsys
) -> None:
    Hostile.answers = HOSTILE[case]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("MRW_LEADERBOARD_TOKEN", TOKEN)
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        code = main(["submit", "--server", url, "--name", "m", "--timeout", "5", *runs])
    finally:
        httpd.shutdown()
        httpd.server_close()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: "), err
    assert TOKEN not in "\n".join(err)


@pytest.mark.parametrize(
    "content", [f"{TOKEN}\n# alpha team\n", f"{TOKEN} extra", f"{TOKEN}é"], ids=str
)
def test_a_token_file_with_more_than_the_token_is_refused_without_echoing_it(
    content: str, server: str, runs: list[str], tmp_path: Path, capsys
) -> None:
    token_file = tmp_path / "team.token"
    token_file.write_text(content, encoding="utf-8")
    code = main(
        ["submit", "--server", server, "--token-file", str(token_file), "--name", "m", *runs]
    )
    err = capsys.readouterr().err
    assert code == 2 and "must hold the token alone" in err
    assert "secret-token-value" not in err
    assert QueuedForever.seen_tokens == []  # nothing was sent


def test_the_run_tag_names_a_submission_without_name(tmp_path: Path) -> None:
    import gzip

    from leaderboard.commands.submit import run_tag
    from leaderboard.errors import LeaderboardError

    tagged = tmp_path / "t2v.run.gz"
    tagged.write_bytes(gzip.compress(b"s0 Q0 v0 1 1.0 PVSE-K4\ns1 Q0 v1 1 0.5 PVSE-K4\n"))
    assert run_tag(tagged) == "PVSE-K4"
    untagged = tmp_path / "t2v.run"
    untagged.write_text("s0 Q0 v0 1\n")
    with pytest.raises(LeaderboardError, match="no run tag on its first line"):
        run_tag(untagged)
