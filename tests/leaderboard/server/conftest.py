"""Fixtures shared by the server's store tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Any]:
    """A migrated SQLite server database (`leaderboard.server.db.Database`) in the test's
    folder, closed afterwards; skips without the server extra."""
    pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
    from leaderboard.server.db import Database, database_url

    database = Database(database_url(tmp_path / "board.db", None))
    database.migrate()
    yield database
    database.close()
