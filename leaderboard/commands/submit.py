"""`mrw-leaderboard submit`: upload a run pair to a leaderboard server and wait for the score."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard submit` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "submit",
        help="submit a run pair to a leaderboard server and wait for its score",
        description="Upload T2V_RUN and V2T_RUN (plain or gzip) to the server at --server, "
        "authenticated by the team token read from --token-file or $MRW_LEADERBOARD_TOKEN "
        "(never given on the command line), then wait until the server has scored them and "
        "print the metrics. A refused or failed submission exits 2 with the server's reason.",
        allow_abbrev=False,  # `--token SECRET` must not pass as an abbreviation of --token-file
    )
    parser.add_argument("--server", required=True, metavar="URL", help="e.g. http://host:8000")
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="file holding the team's token (else $MRW_LEADERBOARD_TOKEN; never argv)",
    )
    parser.add_argument("--name", required=True, help="method name shown on the board")
    parser.add_argument(
        "--description", default="", metavar="TEXT", help="one line shown under the name"
    )
    parser.add_argument("--split", help="split to score against (default: the server's)")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, metavar="S", help="seconds to wait for a score"
    )
    parser.add_argument("--json", action="store_true", help="print the final status as JSON")
    parser.add_argument("t2v_run", type=Path, metavar="T2V_RUN", help="text-to-video run file")
    parser.add_argument("v2t_run", type=Path, metavar="V2T_RUN", help="video-to-text run file")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard submit` with parsed `args`; return the process exit code."""
    import contextlib
    import sys

    from rich.console import Console

    from leaderboard.commands.common import print_metrics
    from leaderboard.errors import LeaderboardError
    from leaderboard.server import CLIENT_MODULES, require
    from leaderboard.server.client import Client, read_token

    require(CLIENT_MODULES)
    token = read_token(args.token_file)
    with contextlib.closing(Client(args.server, token)) as client:
        submission_id = client.upload(
            args.t2v_run, args.v2t_run, args.name, args.description, args.split
        )
        print(f"submitted #{submission_id}; waiting for the score", file=sys.stderr)
        with Console(stderr=True).status(f"#{submission_id} queued") as shown:
            status = client.wait(
                submission_id,
                args.timeout,
                on_poll=lambda s: shown.update(
                    f"#{submission_id} {'being scored' if s.get('scoring') else s['status']}"
                ),
            )
    from leaderboard.metrics import Metrics

    if status["status"] == "failed":
        raise LeaderboardError(f"submission #{submission_id} failed: {status.get('reason')}")
    if args.json:
        print(json.dumps(status))
    else:
        print_metrics(Metrics.from_json(status["metrics"]))
        print(
            f"scored #{submission_id} '{status['name']}' on {status['dataset']}/{status['split']}"
        )
    return 0
