"""The hosted leaderboard end to end: a real `mrw-leaderboard serve` (uvicorn subprocess) on
loopback, driven over HTTP and by `mrw-leaderboard submit`."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import re
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

from leaderboard.parse import parse_run
from leaderboard.score import first_relevant_ranks, load_truth, score_submission
from mrw.testing.leaderboard_server import LiveServer, live_server, make_runs, make_truth

pytestmark = pytest.mark.slow

TOKEN = "MRW_LEADERBOARD_TOKEN"
MAX_UPLOAD = 2 << 20  # per file, as sent
MAX_RUN = 1 << 20  # per file, uncompressed (the scorer's --max-bytes)
PER_DAY = 3


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_truth(tmp_path_factory.mktemp("truth") / "toyset" / "qrels")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, truth: Path):
    folder = tmp_path_factory.mktemp("server")
    limits = ("--per-day", str(PER_DAY), "--total", "50", "--max-upload-bytes", str(MAX_UPLOAD))
    stall = ("--upload-stall-timeout", "1")
    with live_server(folder, truth, *limits, *stall, "--max-bytes", str(MAX_RUN)) as live:
        yield live


@pytest.fixture
def team(server: LiveServer, request: pytest.FixtureRequest) -> str:
    """A fresh team (so per-team limits start at zero) named after the test; its token."""
    return server.add_team(request.node.name[:60])


def _accepted(response) -> int:
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/api/submissions/{response.json()['id']}"
    return int(response.json()["id"])


def test_valid_submission_is_scored_like_the_score_command(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    t2v, v2t = make_runs(tmp_path, truth / "test", seed=1)
    submission_id = _accepted(server.post(team, t2v, v2t, name="PVSE", description="K=4"))
    status = server.wait(team, submission_id)
    assert status["status"] == "scored", status
    local = server.cli("score", "--truth", str(truth / "test"), str(t2v), str(v2t), "--json")
    assert status["metrics"] == json.loads(local.stdout)
    for direction in ("t2v", "v2t"):  # in the scorer's order too (R@1, R@5, R@10, ...)
        assert list(status["metrics"][direction]) == list(json.loads(local.stdout)[direction])
    assert status["metrics"] == json.loads(
        json.dumps(score_submission(truth / "test", t2v, v2t).to_json())
    )
    assert status["split"] == "test" and status["dataset"] == "toyset"
    assert "details" not in status  # hidden split: metrics only
    assert status["attempts"] == 1
    with server.client() as http:
        (board,) = http.get("/api/board", params={"split": "test"}).json()["boards"]
        validation = http.get("/api/board", params={"split": "validation"}).json()["boards"]
    assert board["dataset"] == "toyset" and board["split"] == "test"
    (row,) = [r for r in board["submissions"] if r["id"] == submission_id]
    assert (
        row["name"] == "PVSE"
        and row["description"] == "K=4"
        and row["metrics"] == status["metrics"]
    )
    assert all(r["id"] != submission_id for b in validation for r in b["submissions"])


def test_public_split_gets_per_query_ranks(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    t2v, v2t = make_runs(tmp_path, truth / "validation", seed=2)
    submission_id = _accepted(server.post(team, t2v, v2t, split="validation"))
    status = server.wait(team, submission_id)
    assert status["status"] == "scored" and status["split"] == "validation"
    qrels = load_truth(truth / "validation")
    for direction, path in (("t2v", t2v), ("v2t", v2t)):
        ranks = first_relevant_ranks(parse_run(path, qrels[direction]), qrels[direction]).ranks
        got = status["details"][direction]["first_relevant_rank"]
        assert list(got.values()) == ranks.tolist()
        assert list(got) == [qrels[direction].query_ids[i] for i in qrels[direction].scored_queries]


def test_tokens_bad_missing_revoked_get_401(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    t2v, v2t = make_runs(tmp_path, truth / "test", seed=3)
    key_id = team.split("_")[1]
    for token in (None, "nonsense", f"mrwlb_{key_id}_wrongsecret", team + "x"):
        response = server.post(token, t2v, v2t)
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"].startswith("Bearer")
    name = server.cli("team", "list", "--board", str(server.board)).stdout
    assert team not in name and team not in server.board.read_bytes().decode("latin-1")
    own = _accepted(server.post(team, t2v, v2t))
    team_name = server.client(team).get(f"/api/submissions/{own}").json()["team"]
    other = server.add_team("someone-else")
    assert server.client(other).get(f"/api/submissions/{own}").status_code == 404
    assert server.cli("team", "revoke", "--board", str(server.board), team_name).returncode == 0
    t2v, v2t = make_runs(tmp_path, truth / "test", seed=4)
    assert server.post(team, t2v, v2t).status_code == 401
    assert server.client(team).get(f"/api/submissions/{own}").status_code == 401


def test_daily_limit_gives_429(server: LiveServer, team: str, truth: Path, tmp_path: Path) -> None:
    for seed in range(PER_DAY):
        _accepted(server.post(team, *make_runs(tmp_path, truth / "test", seed=100 + seed)))
    response = server.post(team, *make_runs(tmp_path, truth / "test", seed=199))
    assert response.status_code == 429
    assert "daily limit of 3" in response.json()["error"]
    assert 0 < int(response.headers["retry-after"]) <= 86400


def test_oversized_upload_gives_413_and_returns_the_slot(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    _, v2t = make_runs(tmp_path, truth / "test", seed=5)
    uploads = server.folder / "board.db.uploads"
    folders = set(uploads.iterdir())
    big = tmp_path / "big.run"
    big.write_bytes(b"x" * (MAX_UPLOAD + 1))
    response = server.post(team, big, v2t)  # Content-Length known: refused before reading
    assert response.status_code == 413

    def chunks():
        boundary = b"b0undary"
        yield (
            b"--"
            + boundary
            + b'\r\nContent-Disposition: form-data; name="t2v"; filename="a"\r\n\r\n'
        )
        for _ in range(MAX_UPLOAD // 4096 + 2):
            yield b"y" * 4096
        yield b"\r\n--" + boundary + b"--\r\n"

    with server.client(team) as http:  # chunked, no Content-Length: refused while reading
        response = http.post(
            "/api/submissions",
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
        )
    assert response.status_code == 413 and "t2v file exceeds" in response.json()["error"]
    assert set(uploads.iterdir()) == folders  # what was received of it is gone
    for _ in range(PER_DAY):  # the refused uploads did not use up the day's submissions
        _accepted(server.post(team, *make_runs(tmp_path, truth / "test", seed=_ + 500)))


def _gzip_bomb(path: Path, truth: Path, uncompressed: int) -> None:
    """Valid run lines, repeated: one gzip member of 1 MiB written `uncompressed >> 20` times
    (a 400:1 ratio; the upload cap bounds what is sent, only the scorer's limit what it means)."""
    line = b"test-s0_0 Q0 test-v0 1 0.5 t\n"
    member = gzip.compress(line * ((1 << 20) // len(line)), 9)
    with path.open("wb") as out:
        for _ in range(uncompressed >> 20):
            out.write(member)


def test_gzip_bomb_is_refused_with_bounded_memory(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    bomb = tmp_path / "bomb.run.gz"
    _gzip_bomb(bomb, truth, 512 << 20)  # 512 MiB once decompressed, 1.3 MiB sent
    assert bomb.stat().st_size < MAX_UPLOAD
    _, v2t = make_runs(tmp_path, truth / "test", seed=6)
    before = server.peak_rss_bytes()
    submission_id = _accepted(server.post(team, bomb, v2t))
    status = server.wait(team, submission_id)
    assert status["status"] == "failed"
    assert status["reason"] == f"t2v: line 1: file exceeds the size limit of {MAX_RUN} bytes"
    assert server.peak_rss_bytes() - before < 64 << 20


def test_malformed_file_fails_with_its_line_number(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    t2v, v2t = make_runs(tmp_path, truth / "test", seed=7, gzip=False)
    lines = v2t.read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace(lines[4].split()[4], "oops")
    v2t.write_text("".join(lines))
    status = server.wait(team, _accepted(server.post(team, t2v, v2t)))
    assert status["status"] == "failed"
    assert status["reason"] == "v2t: line 5: score 'oops' is not a number"
    assert status["attempts"] == 1 and status["scorer_version"]
    unknown = tmp_path / "unknown.run"
    unknown.write_text("nobody Q0 test-v0 1 0.5 t\n")
    status = server.wait(team, _accepted(server.post(team, unknown, v2t)))
    assert status["reason"] == "t2v: line 1: unknown query id 'nobody' (not in the ground truth)"
    assert str(truth) not in json.dumps(status)


def test_duplicate_files_are_refused(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    t2v, v2t = make_runs(tmp_path, truth / "test", seed=8)
    first = _accepted(server.post(team, t2v, v2t, name="one"))
    again = server.post(team, t2v, v2t, name="renamed")
    assert again.status_code == 409
    assert f"already submitted as #{first}" in again.json()["error"]
    other_team = server.add_team("duplicate-copier")
    refused = server.post(other_team, t2v, v2t)
    assert refused.status_code == 409  # another team's submission is not named
    assert refused.json()["error"] == "identical files were already submitted by another team"
    # The same files against another split's truth are a different submission (and invalid).
    assert server.post(team, t2v, v2t, split="validation").status_code == 202
    # A copy in another form (decompressed, lines shuffled, scores rescaled, another run tag)
    # has other bytes but the same rankings: accepted, then refused once scored.
    for seed, (sender, earlier) in enumerate(
        ((team, f"submission #{first}"), (other_team, "a submission of another team"))
    ):
        copies = []
        for path in (t2v, v2t):
            lines = gzip.decompress(path.read_bytes()).decode().splitlines()
            random.Random(seed).shuffle(lines)
            fields = [line.split() for line in lines]
            rescored = [f"{q}\t{z}  {d} {r} {2 * float(s) + 1} copy" for q, z, d, r, s, _ in fields]
            copies.append(tmp_path / f"copy{seed}-{path.name}.txt")
            copies[-1].write_text("\n".join(rescored) + "\n")
        status = server.wait(sender, _accepted(server.post(sender, *copies)))
        assert status["status"] == "failed" and status["attempts"] == 1
        assert status["reason"].startswith(f"the same rankings as {earlier} (")
        assert "metrics" not in status


def test_two_teams_submitting_concurrently_lose_nothing(
    server: LiveServer, truth: Path, tmp_path: Path
) -> None:
    tokens = [server.add_team(f"concurrent-{i}") for i in range(2)]
    runs = {
        token: [make_runs(tmp_path, truth / "test", seed=1000 + 10 * i + k) for k in range(PER_DAY)]
        for i, token in enumerate(tokens)
    }
    ids: dict[str, list[int]] = {token: [] for token in tokens}
    errors: list[BaseException] = []

    def submit_all(token: str) -> None:
        try:
            for t2v, v2t in runs[token]:
                ids[token].append(_accepted(server.post(token, t2v, v2t)))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=submit_all, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for token in tokens:
        assert len(set(ids[token])) == PER_DAY
        for submission_id, (t2v, v2t) in zip(ids[token], runs[token], strict=True):
            status = server.wait(token, submission_id)
            assert status["status"] == "scored" and status["attempts"] == 1
            assert status["metrics"] == json.loads(
                json.dumps(score_submission(truth / "test", t2v, v2t).to_json())
            )


def test_submit_command_waits_and_prints_the_score(
    server: LiveServer, truth: Path, tmp_path: Path
) -> None:
    token = server.add_team("cli-team")
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    t2v, v2t = make_runs(tmp_path, truth / "test", seed=9)
    argv = ["submit", "--server", server.url, "--name", "cli run", str(t2v), str(v2t)]
    done = server.cli(*argv[:5], "--token-file", str(token_file), "--json", *argv[5:])
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["status"] == "scored" and status["name"] == "cli run"
    assert status["metrics"] == json.loads(
        json.dumps(score_submission(truth / "test", t2v, v2t).to_json())
    )

    t2v, v2t = make_runs(tmp_path, truth / "test", seed=10)
    argv = [*argv[:5], str(t2v), str(v2t)]
    done = server.cli(*argv, env={"MRW_LEADERBOARD_TOKEN": token})
    assert done.returncode == 0 and "rsum" in done.stdout, done.stderr
    submission_id = int(done.stderr.split("submitted #")[1].split(";")[0])
    done = server.cli(*argv, env={"MRW_LEADERBOARD_TOKEN": token})  # the same files again
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        f"server refused (409): identical files were already submitted as #{submission_id}"
        in done.stderr
    )
    shown = server.cli("status", *argv[1:3], "--json", str(submission_id), env={TOKEN: token})
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == submission_id, shown.stderr
    assert json.loads(shown.stdout)["metrics"] == json.loads(
        json.dumps(score_submission(truth / "test", t2v, v2t).to_json())
    )
    done = server.cli(*argv[:5], "--token", token, str(t2v), str(v2t))
    assert done.returncode == 2 and "never from the command line" in done.stderr
    assert token not in done.stderr
    done = server.cli(*argv, env={"MRW_LEADERBOARD_TOKEN": ""})
    assert done.returncode == 2 and "no token" in done.stderr and "Traceback" not in done.stderr


def test_closed_to_other_origins_and_to_the_file_system(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    qrels = (truth / "test" / "t2v.qrels").read_text()
    with server.client() as http:
        response = http.get("/api/board", headers={"Origin": "https://evil.example"})
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers
        preflight = http.options(
            "/api/submissions",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers
        assert preflight.status_code == 405
        page = http.get("/")
        assert page.headers["x-content-type-options"] == "nosniff"
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "unsafe-inline'; frame" not in policy
        # Only the page's own script may run: the policy names it by its SHA-256.
        (script,) = re.findall(r"<script>(.*?)</script>", page.text, flags=re.DOTALL)
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"script-src 'sha256-{digest}';" in policy
        for path in (
            "/test/t2v.qrels", "/toyset/qrels/test/t2v.qrels", "/../qrels/test/t2v.qrels",
            "/%2e%2e/%2e%2e/qrels/test/t2v.qrels", "/submissions/1/../../board.db",
            "/api/submissions/..%2F..%2Fboard.db", "/static/t2v.qrels", "/uploads/1/t2v.run",
        ):  # fmt: skip
            response = http.get(path)
            assert response.status_code == 404, path
            assert qrels[:30] not in response.text


def test_malformed_requests_get_400_and_keep_no_slot(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    t2v, v2t = make_runs(tmp_path, truth / "test", seed=11)
    a, b = ("t2v", t2v.read_bytes()), ("v2t", v2t.read_bytes())
    with server.client(team) as http:
        cases = {
            "not multipart": http.post("/api/submissions", json={"t2v": "x"}),
            "one file": http.post("/api/submissions", data={"name": "m"}, files={"t2v": a}),
            "unknown field": http.post(
                "/api/submissions", data={"name": "m", "path": "../../etc/passwd"}, files={"t2v": a}
            ),
            "no name": http.post("/api/submissions", files={"t2v": a, "v2t": b}),
        }
    assert {name: r.status_code for name, r in cases.items()} == dict.fromkeys(cases, 400)
    assert "missing or empty run file(s): v2t" in cases["one file"].json()["error"]
    assert "unexpected form field 'path'" in cases["unknown field"].json()["error"]
    assert cases["no name"].json()["error"] == "name must not be empty"  # a form field, not a flag
    unknown_split = server.post(team, t2v, v2t, split="../test")
    assert unknown_split.status_code == 400 and "unknown split" in unknown_split.json()["error"]
    for seed in range(PER_DAY):  # none of the refused requests used a submission
        _accepted(server.post(team, *make_runs(tmp_path, truth / "test", seed=600 + seed)))


def test_query_string_tokens_stay_out_of_the_log_and_huge_ids_get_404(
    server: LiveServer, team: str
) -> None:
    secret = team.split("_")[-1]
    with server.client(team) as http:
        http.post(f"/api/submissions?token={team}")
        for path in (
            "/api/submissions/99999999999999999999999999",
            "/submissions/9223372036854775808",
        ):
            assert http.get(path).status_code == 404, path
        assert http.get("/api/submissions/0").status_code == 404
    time.sleep(0.5)  # the access log line is written after the response
    log = server.log.decode(errors="replace")
    assert "/api/submissions?[redacted]" in log and secret not in log


def _raw_request(server: LiveServer, head: bytes) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10)
    connection.sendall(head)
    return connection


def _bytes_sent_until_closed(connection: socket.socket, limit: int, seconds: float) -> int:
    """Send zeros until the server closes the connection (or `limit` bytes / `seconds`)."""
    sent, chunk, deadline = 0, b"\0" * (1 << 16), time.monotonic() + seconds
    try:
        while sent < limit and time.monotonic() < deadline:
            connection.sendall(chunk)
            sent += len(chunk)
    except OSError:  # reset or broken pipe: the server closed it
        pass
    return sent


@pytest.mark.parametrize(
    "head",
    [
        b"POST /api/submissions HTTP/1.1\r\nHost: x\r\n"  # no token: 401
        b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000000\r\n\r\n",
        b"GET /api/info HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    ],
    ids=["401", "GET with a body", "GET chunked"],
)
def test_a_body_nobody_reads_is_not_read(server: LiveServer, head: bytes) -> None:
    """Answered before its body was read, a request's connection is closed: the server does
    not go on reading (and discarding) gigabytes to keep it alive."""
    connection = _raw_request(server, head)
    sent = _bytes_sent_until_closed(connection, limit=1 << 30, seconds=20)
    connection.close()
    assert sent < 256 << 20  # a few socket buffers, not the gigabyte on offer


def test_an_upload_that_stalls_is_dropped_and_its_slot_returned(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    connection = _raw_request(
        server,
        f"POST /api/submissions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {team}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
        '--b\r\nContent-Disposition: form-data; name="t2v"\r\n\r\nq Q0'.encode(),
    )
    answer = b""  # the server waits 1 s, answers and closes the connection
    while chunk := connection.recv(65536):
        answer += chunk
    connection.close()
    answer = answer.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 400") and "upload stalled" in answer, answer
    for seed in range(PER_DAY):  # the stalled upload's slot was given back
        _accepted(server.post(team, *make_runs(tmp_path, truth / "test", seed=300 + seed)))


def test_hostile_boundaries_and_ids_are_refused_without_a_traceback(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    t2v, v2t = make_runs(tmp_path, truth / "test", seed=9)
    with server.client(team) as http:
        for boundary in ("x" * 71, "x" * 5000):  # (headers over 16 KiB: uvicorn says 400)
            response = http.post(
                "/api/submissions",
                content=b"--x--",
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
            assert response.status_code == 400 and "boundary" in response.json()["error"]
        for path in ("/api/submissions/", "/submissions/"):
            for submission_id in ("9" * 5000, "٣", "1e3", "-1"):
                assert http.get(path + submission_id).status_code == 404, (path, submission_id)
    assert b"Traceback" not in server.log


def test_team_route_and_a_bad_token_refused_before_any_file_is_sent(
    server: LiveServer, team: str, truth: Path, tmp_path: Path
) -> None:
    t2v, v2t = make_runs(tmp_path, truth / "test", seed=777)
    _accepted(server.post(team, t2v, v2t))
    with server.client(team) as http:
        mine = http.get("/api/team").json()
    assert mine["submissions_today"] == mine["submissions_total"] == 1
    assert mine["limits"] == {"per_day": PER_DAY, "total": 50}
    assert server.client("mrwlb_nobody_nothing").get("/api/team").status_code == 401
    big = tmp_path / "big.run"  # over what the server would read to answer early
    big.write_bytes(b"x" * (MAX_UPLOAD - 1000))
    (tmp_path / "bad.token").write_text("mrwlb_nobody_nothing\n")
    done = server.cli("submit", "--server", server.url, "--token-file", str(tmp_path / "bad.token"),
                      "--name", "m", str(big), str(big))  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().endswith("server refused (401): missing, unknown or revoked token")
