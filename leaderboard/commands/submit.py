"""`mrw-leaderboard submit`: upload a run pair to a leaderboard server and wait for the score.

The options that talk to a server (`--server`, the token, `--timeout`, `--json`) and the
waiting and printing are shared with `mrw-leaderboard status`, which shows a submission
later by its id.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leaderboard.commands.common import add_card_argument, run_pair_card
from leaderboard.server.client import TOKEN_ENV

if TYPE_CHECKING:
    from leaderboard.server.client import Client


class RefuseToken(argparse.Action):
    """`--token` (and `--token=...`): a one-line usage error that does not repeat the value.

    A token on the command line is visible to every user of the machine in the process list;
    taking the option (value and all) also keeps argparse from reading the token as a file
    name and from echoing it in an "unrecognized arguments" message.
    """

    def __init__(self, option_strings: list[str], dest: str, **_: Any) -> None:
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        parser.error(
            f"tokens are read from --token-file FILE or ${TOKEN_ENV}, never from the command line"
        )


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--server`, `--token-file` (and the refused `--token`), `--timeout`, `--json`."""
    parser.add_argument("--server", required=True, metavar="URL", help="e.g. http://host:8000")
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help=f"file holding the team's token (else ${TOKEN_ENV}; never argv)",
    )
    parser.add_argument("--token", action=RefuseToken)
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="S",
        help="seconds this command may take in all: every request to the server (the upload "
        "included) and the wait for a score (default: %(default)g)",
    )
    parser.add_argument("--json", action="store_true", help="print the final status as JSON")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard submit` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "submit",
        help="submit a run pair to a leaderboard server and wait for its score",
        description="Upload T2V_RUN and V2T_RUN (plain or gzip) to the server at --server, "
        f"authenticated by the team token read from --token-file or ${TOKEN_ENV} "
        "(never given on the command line), with their protocol card (the protocol.json "
        "beside the files, or --card), then wait until the server has scored them and "
        "print the metrics. A refused or failed submission exits 2 with the server's reason; "
        "one not scored within --timeout stays queued, and `mrw-leaderboard status` shows it "
        "later.",
        allow_abbrev=False,  # `--token SECRET` must not pass as an abbreviation of --token-file
    )
    add_server_arguments(parser)
    parser.add_argument(
        "--name",
        help="method name shown on the board (default: the run tag, the last column of "
        "T2V_RUN's first line)",
    )
    parser.add_argument(
        "--description", default="", metavar="TEXT", help="one line shown under the name"
    )
    parser.add_argument("--split", help="split to score against (default: the server's)")
    add_card_argument(parser)
    declared = parser.add_argument_group(
        "declarations shown on the board (default: from the harness run folder holding "
        "T2V_RUN, when it is one: its record's training data and commit, checkpoint.pt's "
        "SHA-256, protocol.json)"
    )
    declared.add_argument("--code-url", metavar="URL", help="http(s) URL of the method's code")
    declared.add_argument("--code-commit", metavar="SHA", help="git commit of that code")
    declared.add_argument(
        "--checkpoint-sha256", metavar="HEX", help="SHA-256 of the checkpoint that ranked"
    )
    declared.add_argument(
        "--training-data",
        metavar="TEXT",
        help="what the method was trained or pretrained on, e.g. 'zero-shot; pretrained on "
        "LAION-2B' or 'fine-tuned on MRW train' (shown as 'undeclared (unknown overlap with "
        "the test media)' when not given)",
    )
    parser.add_argument("t2v_run", type=Path, metavar="T2V_RUN", help="text-to-video run file")
    parser.add_argument("v2t_run", type=Path, metavar="V2T_RUN", help="video-to-text run file")
    parser.set_defaults(func=run)
    return parser


def connect(args: argparse.Namespace) -> Client:
    """A client of `args.server` with the team token (see `add_server_arguments`).

    Raises:
        LeaderboardError: no token, or the server extra is not installed.
    """
    from leaderboard.server import CLIENT_MODULES, require
    from leaderboard.server.client import Client, read_token

    require(CLIENT_MODULES)
    return Client(args.server, read_token(args.token_file), args.timeout)


def wait_and_print(client: Client, submission_id: int, args: argparse.Namespace) -> int:
    """Wait for the submission's score until the client's deadline (`args.timeout` s after it
    was made) and print it (or its JSON status). Text from the server is shown only through
    `server_text`. In the test phase the server's metrics are those of the public part of the
    test queries, and the printed line says so.

    Returns:
        The exit code, 0.

    Raises:
        LeaderboardError: the submission failed, or is not scored in time (the message says
            which `mrw-leaderboard status` command shows it later).
    """
    from rich.console import Console
    from rich.markup import escape

    from leaderboard.commands.common import print_metrics
    from leaderboard.errors import LeaderboardError
    from leaderboard.metrics import Metrics
    from leaderboard.server.client import NotScoredError, server_text

    def state(status: dict) -> str:
        shown = "being scored" if status.get("scoring") else server_text(status["status"], 40)
        return escape(f"#{submission_id} {shown}")

    with Console(stderr=True).status(f"#{submission_id} queued") as shown:
        try:
            status = client.wait(submission_id, on_poll=lambda s: shown.update(state(s)))
        except NotScoredError as exc:
            later = f"mrw-leaderboard status --server {args.server} {submission_id}"
            raise LeaderboardError(f"{exc}; `{later}` shows it later") from None
    if status["status"] == "failed":
        reason = server_text(status.get("reason") or "no reason given")
        raise LeaderboardError(f"submission #{submission_id} failed: {reason}")
    if args.json:
        print(json.dumps(status))
    else:
        print_metrics(Metrics.from_json(status["metrics"]))
        where = f"{server_text(status.get('dataset'), 100)}/{server_text(status.get('split'), 100)}"
        part = " (public part of the test queries)" if status.get("phase") == "test" else ""
        print(f"scored #{submission_id} '{server_text(status.get('name'), 200)}' on {where}{part}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard submit` with parsed `args`; return the process exit code."""
    import contextlib
    import sys

    from leaderboard.server.client import check_run_file

    for path in (args.t2v_run, args.v2t_run):  # before reading a run tag or the token
        check_run_file(path)
    name = args.name if args.name is not None else run_tag(args.t2v_run)
    declared = declarations(args)
    with contextlib.closing(connect(args)) as client:
        submission_id = client.upload(
            args.t2v_run, args.v2t_run, name, args.description, args.split, declared
        )
        print(f"submitted #{submission_id}; waiting for the score", file=sys.stderr)
        return wait_and_print(client, submission_id, args)


def declarations(args: argparse.Namespace) -> dict[str, str]:
    """The declared fields: the options given (`--card FILE` for the protocol card), else
    what the harness run folder holding T2V_RUN declares (`declarations.from_run_folder`) and
    the `protocol.json` beside the run files; the server checks them."""
    import sys

    from leaderboard.commands.declarations import from_run_folder
    from leaderboard.server.client import card_field

    fields, notes = from_run_folder(args.t2v_run.resolve().parent, card=False)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    given = {
        "code_url": args.code_url,
        "code_commit": args.code_commit,
        "checkpoint_sha256": args.checkpoint_sha256,
        "training_data": args.training_data,
    }
    fields.update({key: value for key, value in given.items() if value is not None})
    card = run_pair_card(args)
    if card is not None:
        fields["protocol_card"] = card_field(card)
    return fields


def run_tag(path: Path) -> str:
    """The run tag of a TREC run file: the sixth column of its first line.

    Raises:
        LeaderboardError: the first line cannot be read or has no sixth column.
    """
    from leaderboard.errors import LeaderboardError
    from leaderboard.parse import first_line

    fields = first_line(path).split()
    if len(fields) < 6:
        raise LeaderboardError(
            f"{path}: no run tag on its first line to name the submission; give --name"
        )
    return fields[5].decode("utf-8", "replace")
