"""`mrw-leaderboard serve`: the hosted leaderboard (API, scoring workers, live board page)."""

from __future__ import annotations

import argparse
import copy
import logging
import socket
from pathlib import Path

from leaderboard.commands.common import add_truth_argument
from leaderboard.commands.team import add_database_arguments
from leaderboard.errors import LeaderboardError
from mrw.core.cliargs import integer, nonempty, number


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard serve` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "serve",
        help="run the leaderboard server (teams submit, the truth stays here)",
        description="Serve a leaderboard: teams POST run pairs to /api/submissions with their "
        "token (see `team add`), a worker scores them against --truth (which is never "
        "served), and / shows the live board. The database schema is created or upgraded "
        "on start. Needs the `server` extra: pip install 'mrw-toolkit[server]'.",
    )
    add_database_arguments(parser)
    add_truth_argument(
        parser,
        "folder of split folders, each holding t2v.qrels and v2t.qrels (e.g. DATASET/qrels), "
        "or one split folder",
    )
    parser.add_argument(
        "--dataset", type=nonempty, help="dataset label (default: from the --truth path)"
    )
    parser.add_argument(
        "--public-split",
        action="append",
        metavar="SPLIT",
        help="split scored with per-query details (repeatable; default: validation); "
        "other splits are hidden: metrics only",
    )
    parser.add_argument(
        "--storage",
        type=Path,
        metavar="DIR",
        help="where uploads are kept (default: the --board file's name + .uploads, e.g. "
        "board.db.uploads/ beside board.db; required with --db)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=integer(0, 65535),
        default=8000,
        help="port to listen on (default %(default)s; 0: any free port, printed)",
    )
    parser.add_argument(
        "--upload-stall-timeout",
        type=number(0.1, 3600.0),
        default=60.0,
        metavar="S",
        help="an upload that sends nothing for S seconds is dropped: 400, its slot given "
        "back (default %(default)s)",
    )
    parser.add_argument(
        "--max-connections",
        type=integer(1, 100_000),
        default=200,
        metavar="N",
        help="open connections served at once; more get 503 (default %(default)s)",
    )
    parser.add_argument(
        "--max-connections-per-ip",
        type=integer(1, 100_000),
        default=16,
        metavar="N",
        help="open connections per client address; more get 503 (default %(default)s; "
        "behind a reverse proxy, every client has the proxy's address: raise it)",
    )
    parser.add_argument(
        "--header-timeout",
        type=number(0.1, 3600.0),
        default=10.0,
        metavar="S",
        help="a connection that has not sent a whole request head S seconds after it opened "
        "(or after its previous response) is closed (default %(default)s)",
    )
    parser.add_argument(
        "--per-day",
        type=integer(1),
        default=5,
        metavar="N",
        help="submissions per team per UTC day (default: %(default)s)",
    )
    parser.add_argument(
        "--total",
        type=integer(1),
        default=100,
        metavar="N",
        help="submissions per team, ever (default: %(default)s)",
    )
    parser.add_argument(
        "--max-upload-bytes",
        type=integer(1),
        default=512 << 20,
        metavar="N",
        help="cap per uploaded run file as sent (default: 512 MiB); larger uploads get 413",
    )
    parser.add_argument(
        "--workers",
        type=integer(1, 64),
        default=2,
        metavar="N",
        help="submissions scored at once (default: %(default)s)",
    )
    parser.add_argument(
        "--discard-uploads",
        action="store_true",
        help="delete each run pair once scored (its SHA-256s stay: duplicates are still "
        "refused); default: keep them in --storage",
    )
    parser.set_defaults(func=run)
    return parser


class RedactQuery(logging.Filter):
    """Drops the query string from uvicorn's access-log lines: it may carry a token."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite uvicorn's `(client, method, path, http_version, status)` arguments."""
        args = record.args
        if isinstance(args, tuple) and len(args) > 2 and "?" in str(args[2]):
            record.args = (*args[:2], str(args[2]).split("?", 1)[0] + "?[redacted]", *args[3:])
        return True


def _log_config() -> dict:
    """uvicorn's logging configuration, with query strings redacted from the access log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query"] = {"()": f"{__name__}.RedactQuery"}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_query"]
    return config


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard serve` with parsed `args`; return the process exit code."""
    from leaderboard.server import SERVER_MODULES, require

    require(SERVER_MODULES)
    import uvicorn

    from leaderboard.server import truth
    from leaderboard.server.app import create_app, prepare
    from leaderboard.server.connections import guarded_h11
    from leaderboard.server.db import Database, database_url
    from leaderboard.server.store import Limits

    storage = args.storage
    if storage is None:
        if args.board is None:
            raise LeaderboardError("--storage DIR is required with --db")
        storage = args.board.with_name(args.board.name + ".uploads")
    loaded = truth.load(args.truth, args.dataset, tuple(args.public_split or ("validation",)))
    unknown = sorted(set(args.public_split or ()) - set(loaded.splits))
    if unknown:
        raise LeaderboardError(
            f"--public-split {unknown[0]!r}: no such split (the truth has "
            f"{', '.join(sorted(loaded.splits))})"
        )
    limits = Limits(
        args.per_day, args.total, args.max_upload_bytes, args.max_bytes, args.upload_stall_timeout
    )
    listener = listen(args.host, args.port)  # before any work: a taken port is one line
    db = Database(database_url(args.board, args.db))
    try:
        server = prepare(db, loaded, storage.resolve(), limits, args.workers, args.discard_uploads)
        print(
            f"serving {loaded.dataset} ({', '.join(sorted(loaded.splits))}; public: "
            f"{', '.join(loaded.public_splits()) or 'none'}) on "
            f"http://{args.host}:{listener.getsockname()[1]}",
            flush=True,
        )
        config = uvicorn.Config(
            create_app(server),
            host=args.host,
            port=args.port,
            server_header=False,
            timeout_keep_alive=5,
            limit_concurrency=args.max_connections,
            http=guarded_h11(args.max_connections_per_ip, args.header_timeout),
            log_level="info",
            log_config=_log_config(),
        )
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        listener.close()
        db.close()
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port` and listening (uvicorn accepts on it).

    Raises:
        LeaderboardError: the host does not resolve, or the address is taken or not ours.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as exc:
        raise LeaderboardError(f"--host {host!r}: cannot resolve it ({exc})") from None
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)  # connections made before uvicorn starts wait in the backlog
    except OSError as exc:
        listener.close()
        raise LeaderboardError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return listener
