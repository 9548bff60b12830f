"""Upload storage: checked when `serve` starts, and a storage that fails at run time gives a
one-line 507/503 instead of a bare 500 with a traceback (issue 28, item 15)."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

from mrw.testing.leaderboard_server import live_server, make_runs, make_truth

pytestmark = pytest.mark.slow

FILE_LIMIT = 2 << 20  # RLIMIT_FSIZE of the server process: larger writes fail with EFBIG


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_truth(tmp_path_factory.mktemp("truth") / "toyset" / "qrels")


def _serve(tmp_path: Path, truth: Path, *extra: str) -> subprocess.CompletedProcess:
    """`mrw-leaderboard serve` expected to stop at once (a server that starts is killed
    after 60 s: the test then fails on its exit code)."""
    board = ["--board", str(tmp_path / "board.db"), "--truth", str(truth), "--port", "0"]
    argv = [sys.executable, "-m", "leaderboard.cli", "serve", *board, *extra]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(argv, -9, str(exc.stdout), str(exc.stderr))


def test_serve_checks_the_storage_before_it_starts(tmp_path: Path, truth: Path) -> None:
    done = _serve(tmp_path, truth, "--storage", "/proc/1")  # a folder no file can be made in
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "error: cannot write in /proc/1: No such file or directory"
    done = _serve(tmp_path, truth, "--max-upload-bytes", str(2**52))  # 8 PiB a pair
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: --storage {tmp_path / 'board.db.uploads'}: ")
    assert "MiB free; one submission may need" in line and "(2 x --max-upload-bytes)" in line


def test_a_storage_that_fails_at_run_time_gives_one_line_and_keeps_no_slot(
    tmp_path: Path, truth: Path
) -> None:
    with live_server(tmp_path, truth, "--max-upload-bytes", str(8 << 20)) as server:
        token = server.add_team("alpha")
        big = tmp_path / "big.run"
        big.write_bytes(b"q Q0 d 1 1 t\n" * (FILE_LIMIT // 13 + 1000))  # just over the limit
        _, v2t = make_runs(tmp_path, truth / "test", seed=1)
        assert server.process is not None
        pid = server.process.pid
        before = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (FILE_LIMIT, before[1]))  # soft limit only
        try:
            response = server.post(token, big, v2t)
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, before)
        assert response.status_code == 507, response.text
        assert response.json() == {
            "error": "the server cannot store uploads now (File too large); try again later"
        }
        time.sleep(0.3)
        log = server.log.decode(errors="replace")
        assert "Traceback" not in log and "cannot store the upload" in log
        with server.client(token) as http:  # the slot was given back
            assert http.get("/api/team").json()["submissions_total"] == 0
        t2v, v2t = make_runs(tmp_path, truth / "test", seed=2)
        response = server.post(token, t2v, v2t)  # once the storage works again, so does upload
        assert response.status_code == 202
        assert server.wait(token, int(response.json()["id"]))["status"] == "scored"
