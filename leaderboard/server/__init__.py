"""The hosted leaderboard: teams upload run files, the server scores them against truth it keeps.

An ASGI app (Starlette, served by uvicorn) over a SQLAlchemy database (SQLite in WAL mode by
default, PostgreSQL by URL) whose schema is created and upgraded by Alembic migrations shipped
in this package. Its dependencies are the `server` extra; `require` names what is missing.
"""

from __future__ import annotations

import importlib

from leaderboard.errors import LeaderboardError

# import name -> distribution name, for the message
SERVER_MODULES = {
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "sqlalchemy": "sqlalchemy",
    "alembic": "alembic",
    "python_multipart": "python-multipart",
}
CLIENT_MODULES = {"httpx": "httpx"}


def require(modules: dict[str, str]) -> None:
    """Raise a one-line `LeaderboardError` naming the missing packages of `modules`.

    Args:
        modules: import name -> PyPI distribution name (e.g. `SERVER_MODULES`).

    Raises:
        LeaderboardError: when any of them cannot be imported.
    """
    missing = []
    for name, dist in modules.items():
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(dist)
    if missing:
        raise LeaderboardError(
            f"this command needs {', '.join(missing)}: pip install 'mrw-toolkit[server]'"
        )
