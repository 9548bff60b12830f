"""The leaderboard server on a real PostgreSQL (started by the test on loopback, stopped after):
the same Alembic migrations, the same schema, a submission scored, limits and duplicates."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
psycopg = pytest.importorskip("psycopg", reason="psycopg (the postgres extra) is not installed")

from alembic.autogenerate import compare_metadata  # noqa: E402
from alembic.migration import MigrationContext  # noqa: E402

from leaderboard.score import score_submission  # noqa: E402
from leaderboard.server.db import Database, database_url  # noqa: E402
from leaderboard.server.models import Base  # noqa: E402
from mrw.testing.leaderboard_server import head_revision, live_server, make_runs, make_truth  # noqa: E402

pytestmark = pytest.mark.slow


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _postgres() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on 127.0.0.1; yields the URL of an empty database."""
    initdb, postgres = _binary("initdb"), _binary("postgres")
    if not (initdb and postgres):
        pytest.skip("PostgreSQL binaries not installed (Debian: apt-get install postgresql)")
    run_as: dict = {}
    data = Path(tempfile.mkdtemp(prefix="mrw-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use its own account
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' account to run PostgreSQL")
        os.chown(data, account.pw_uid, account.pw_gid)
        run_as = {"user": account.pw_uid, "group": account.pw_gid}
    server = None
    try:
        subprocess.run(
            [initdb, "-D", str(data / "cluster"), "-U", "mrw", "--auth=trust", "-E", "UTF8"],
            check=True, capture_output=True, **run_as,
        )  # fmt: skip
        port = _free_port()
        server = subprocess.Popen(
            [postgres, "-D", str(data / "cluster"), "-h", "127.0.0.1", "-p", str(port),
             "-k", str(data), "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **run_as,
        )  # fmt: skip
        admin = f"postgresql://mrw@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute("CREATE DATABASE leaderboard")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield f"postgresql://mrw@127.0.0.1:{port}/leaderboard"
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        shutil.rmtree(data, ignore_errors=True)


def test_server_on_postgresql(tmp_path: Path) -> None:
    truth = make_truth(tmp_path / "toyset" / "qrels")
    with (
        _postgres() as url,
        live_server(tmp_path, truth, "--per-day", "2", db_url=url) as server,
    ):
        db = Database(database_url(None, url))
        with db.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
            assert (
                connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
                == head_revision()
            )
        db.close()
        token = server.add_team("pg team <i>")
        t2v, v2t = make_runs(tmp_path, truth / "test", seed=0)
        response = server.post(token, t2v, v2t, name="on postgres")
        assert response.status_code == 202, response.text
        status = server.wait(token, response.json()["id"])
        assert status["status"] == "scored" and status["attempts"] == 1
        assert status["metrics"] == json.loads(
            json.dumps(score_submission(truth / "test", t2v, v2t).to_json())
        )
        assert server.post(token, t2v, v2t).status_code == 409
        assert server.post(token, *make_runs(tmp_path, truth / "test", seed=1)).status_code == 202
        assert server.post(token, *make_runs(tmp_path, truth / "test", seed=2)).status_code == 429
        board = server.client().get("/api/board").json()["boards"][0]["submissions"]
        assert board[0]["team"] == "pg team <i>"
        assert "pg team &lt;i&gt;" in server.client().get("/").text
