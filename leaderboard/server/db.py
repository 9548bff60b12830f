"""The server's database: engine, sessions, one writer, and Alembic migrations applied on start.

SQLite (the default, a file given by `--board`) runs in WAL mode, so readers never wait for
the writer; writes go through one lock (one writer per process). Any other SQLAlchemy URL,
e.g. `postgresql+psycopg://user@host/db`, uses the same schema and the same migrations.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from leaderboard.errors import BoardError

MIGRATIONS = Path(__file__).with_name("migrations")


def database_url(board: str | os.PathLike[str] | None, db: str | None) -> str:
    """The SQLAlchemy URL for `--board FILE` (SQLite) or `--db URL`; exactly one is given.

    Raises:
        BoardError: neither or both given, or a URL SQLAlchemy cannot parse.
    """
    if (board is None) == (db is None):
        raise BoardError("give either --board FILE (SQLite) or --db URL")
    if board is not None:
        path = Path(board).resolve()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BoardError(f"{board}: cannot make its folder ({exc.strerror})") from None
        return f"sqlite:///{path}"
    try:
        url = make_url(db)
    except ArgumentError:
        raise BoardError("--db is not a database URL (e.g. postgresql+psycopg://...)") from None
    if url.drivername == "postgresql":  # the driver this project installs
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """An engine, its session factory and the write lock; `migrate()` before first use."""

    def __init__(self, url: str) -> None:
        """Connect lazily to `url` (from `database_url`).

        Raises:
            BoardError: SQLAlchemy has no dialect for the URL, or its driver is not installed.
        """
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options = {"connect_args": {"timeout": 30, "check_same_thread": False}}
        try:
            self.engine: Engine = create_engine(
                url, pool_pre_ping=not self.is_sqlite, **(options if self.is_sqlite else {})
            )
        except (SQLAlchemyError, ImportError) as exc:  # an unknown dialect, a missing driver
            scheme = make_url(url).drivername
            raise BoardError(f"cannot use a {scheme!r} database here ({exc})") from None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock()

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (creating it on an empty database).

        Raises:
            BoardError: the database is unreachable, or is a `mrw-leaderboard add` board file.
        """
        from alembic import command
        from alembic.config import Config

        try:
            with self.engine.begin() as connection:
                tables = set(inspect(connection).get_table_names())
                if "submissions" in tables and "alembic_version" not in tables:
                    raise BoardError(
                        f"{self.engine.url.render_as_string()}: a board written by "
                        "'mrw-leaderboard add', not a server database; give the server its own"
                    )
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise BoardError(f"cannot open the database: {exc.__class__.__name__}: {exc}") from None

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (no lock; SQLite's WAL lets readers run beside the writer)."""
        with self._sessions() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits on exit; one writer at a time in this process."""
        with self._write_lock, self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        """Dispose of the engine's connection pool."""
        self.engine.dispose()
