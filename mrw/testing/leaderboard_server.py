"""A real `mrw-leaderboard serve` on loopback (uvicorn in a subprocess), its truth and run files.

    truth = make_truth(tmp / "toyset" / "qrels")            # validation + test qrels
    with live_server(tmp, truth, "--per-day", "3") as server:
        token = server.add_team("alpha")
        t2v, v2t = make_runs(tmp, truth / "test", seed=0)
        server.post(token, t2v, v2t, name="m")              # an httpx.Response

The server listens on a port the kernel chose (`--port 0`, read back from its first line);
`peak_rss_bytes()` reads the subprocess's high-water mark from /proc.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leaderboard.qrels import write_qrels
from leaderboard.runfile import write_run

N_VIDEOS, CAPTIONS = 12, 2
_RUNNING = re.compile(rb"^serving .* on http://127\.0\.0\.1:(\d+)$")


def make_truth(root: Path, splits: Sequence[str] = ("validation", "test")) -> Path:
    """`root/<split>/{t2v,v2t}.qrels`: N_VIDEOS videos with CAPTIONS sentences each; every
    split has its own ids (`<split>-s3_1`), so the splits' truths differ."""
    for split in splits:
        pairs = [
            (f"{split}-s{v}_{c}", f"{split}-v{v}") for v in range(N_VIDEOS) for c in range(CAPTIONS)
        ]
        write_qrels(root / split / "t2v.qrels", pairs)
        write_qrels(root / split / "v2t.qrels", [(v, s) for s, v in pairs])
    return root


def make_runs(
    folder: Path, split_dir: Path, seed: int, noise: float = 0.6, gzip: bool = True
) -> tuple[Path, Path]:
    """A noisy run pair for the split whose qrels are in `split_dir` (distinct per seed)."""
    split = split_dir.name
    sentences = [f"{split}-s{v}_{c}" for v in range(N_VIDEOS) for c in range(CAPTIONS)]
    videos = [f"{split}-v{v}" for v in range(N_VIDEOS)]
    rng = np.random.default_rng(seed)
    scores = np.repeat(np.eye(N_VIDEOS), CAPTIONS, axis=0) + noise * rng.standard_normal(
        (len(sentences), N_VIDEOS)
    )
    suffix = ".run.gz" if gzip else ".run"
    t2v, v2t = folder / f"t2v-{split}-{seed}{suffix}", folder / f"v2t-{split}-{seed}{suffix}"
    write_run(t2v, sentences, videos, scores, f"m{seed}")
    write_run(v2t, videos, sentences, scores.T, f"m{seed}")
    return t2v, v2t


def head_revision() -> str:
    """The newest Alembic revision shipped with the server."""
    from alembic.script import ScriptDirectory

    from leaderboard.server.db import MIGRATIONS

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


class SubmittingClient:
    """HTTP helpers for a leaderboard server at `self.url`: a client holding a team's token,
    posting a run pair, and waiting for its score."""

    url: str
    wait_timeout_s: float = 120

    def client(self, token: str | None = None) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def post(self, token: str | None, t2v: Path, v2t: Path, name: str = "m", **fields: str) -> Any:
        with self.client(token) as http, t2v.open("rb") as a, v2t.open("rb") as b:
            return http.post(
                "/api/submissions",
                data={"name": name, **fields},
                files={"t2v": ("t2v", a), "v2t": ("v2t", b)},
            )

    def wait(
        self, token: str, submission_id: int, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """The submission's status document once scored or failed (or at the timeout)."""
        deadline = time.monotonic() + (timeout_s or self.wait_timeout_s)
        with self.client(token) as http:
            while True:
                status = http.get(f"/api/submissions/{submission_id}").json()
                if status["status"] in ("scored", "failed") or time.monotonic() > deadline:
                    return status
                time.sleep(0.1)


class LiveServer(SubmittingClient):
    """`mrw-leaderboard serve --board DIR/board.db --truth TRUTH [extra...] --port 0`."""

    def __init__(self, folder: Path, truth: Path, *extra: str, db_url: str | None = None) -> None:
        self.folder = folder
        self.board = folder / "board.db"
        self.db_url = db_url
        self.database = ["--db", db_url] if db_url else ["--board", str(self.board)]
        storage = ["--storage", str(folder / "uploads")] if db_url else []
        self.argv = [
            sys.executable, "-m", "leaderboard.cli", "serve", *self.database, *storage,
            "--truth", str(truth), "--host", "127.0.0.1", "--port", "0", "--workers", "2", *extra,
        ]  # fmt: skip
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.log = bytearray()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.folder
        )
        found = threading.Event()

        def read_log() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.log.extend(line)
                match = _RUNNING.search(line)
                if match:
                    self.url = f"http://127.0.0.1:{int(match.group(1))}"
                    found.set()

        threading.Thread(target=read_log, daemon=True).start()
        if not found.wait(60):
            self.stop()
            raise RuntimeError(f"server did not start:\n{self.log.decode(errors='replace')}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cli(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run `mrw-leaderboard ARGV...` in a subprocess (text output)."""
        return subprocess.run(
            [sys.executable, "-m", "leaderboard.cli", *argv],
            capture_output=True, text=True, cwd=self.folder, timeout=300, check=False,
            env={**os.environ, **(env or {})},
        )  # fmt: skip

    def add_team(self, name: str) -> str:
        """A new team's token (added in this process, beside the running server)."""
        from leaderboard.server.db import Database, database_url
        from leaderboard.server.teams import add_team

        db = Database(database_url(None if self.db_url else self.board, self.db_url))
        try:
            return add_team(db, name)
        finally:
            db.close()

    def peak_rss_bytes(self) -> int:
        """VmHWM of the server process (Linux)."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024


@contextlib.contextmanager
def live_server(
    folder: Path, truth: Path, *extra: str, db_url: str | None = None
) -> Iterator[LiveServer]:
    """A started `LiveServer`, stopped on exit."""
    server = LiveServer(folder, truth, *extra, db_url=db_url)
    server.start()
    try:
        yield server
    finally:
        server.stop()
