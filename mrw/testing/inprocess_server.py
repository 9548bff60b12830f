"""The leaderboard app served by uvicorn in a thread of the test process, on loopback.

Unlike `mrw.testing.leaderboard_server.LiveServer` (a subprocess), the server's modules are the
test's own, so a test can make a database call fail (monkeypatch) while a real HTTP server
and real workers run:

    with inprocess_server(tmp, truth) as server:
        token = server.add_team("alpha")
        response = server.post(token, t2v, v2t)
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from leaderboard.server import store, teams, truth
from leaderboard.server.app import create_app, prepare
from leaderboard.server.db import Database, database_url
from mrw.testing.leaderboard_server import SubmittingClient


class InProcessServer(SubmittingClient):
    """A running app: its `url`, its `db`, and helpers to add teams, post and wait."""

    wait_timeout_s = 60

    def __init__(self, url: str, db: Database) -> None:
        self.url, self.db = url, db

    def add_team(self, name: str) -> str:
        """A new team's token."""
        return teams.add_team(self.db, name)


@contextlib.contextmanager
def inprocess_server(
    folder: Path, truth_dir: Path, limits: store.Limits | None = None, threads: int = 1
) -> Iterator[InProcessServer]:
    """Serve `truth_dir` from a SQLite board in `folder` until the block ends."""
    import uvicorn

    from leaderboard.commands.serve import listen

    db = Database(database_url(folder / "board.db", None))
    server = prepare(
        db, truth.load(truth_dir), folder / "uploads", limits or store.Limits(per_day=50), threads
    )
    listener = listen("127.0.0.1", 0)
    config = uvicorn.Config(create_app(server), log_level="warning", lifespan="on")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert running.started, "the in-process server did not start"
        yield InProcessServer(f"http://127.0.0.1:{listener.getsockname()[1]}", db)
    finally:
        running.should_exit = True
        thread.join(30)
        listener.close()
        db.close()
