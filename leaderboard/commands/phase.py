"""`mrw-leaderboard phase`: the host opens, closes and reveals a board's phases (dev, test,
closed) and lists them."""

from __future__ import annotations

import argparse

from leaderboard.commands.team import add_database_arguments, host_database
from mrw.core.cliargs import integer, number

PHASE_NAMES = ("dev", "test", "closed")  # leaderboard.server.phases.ORDER (no server import)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard phase` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "phase",
        help="open, close or reveal a leaderboard server's phases (dev, test, closed)",
        description="Phases of a board served by `mrw-leaderboard serve` (the server reads "
        "them on every request, so these run beside it). dev: the validation split, "
        "per-query detail to the team; test: the hidden test split, scored on a public and a "
        "private part, the public part's metrics shown; reveal: the private ranking of each "
        "team's selected submissions is published beside the public one; closed: the "
        "permanent board after the reveal (all test queries, aggregates). Phases open in "
        "that order. Times are ISO 8601, UTC unless they carry an offset.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    opening = actions.add_parser(
        "open",
        help="open (or schedule, or re-open) a phase; the phase open then is closed",
        description="Open phase NAME from --start (default now) until --end (default: until "
        "another phase opens). Opening the test phase the first time makes its private split "
        "(from --seed, stored, never served).",
    )
    add_database_arguments(opening)
    opening.add_argument("name", choices=PHASE_NAMES, metavar="NAME", help="dev, test or closed")
    opening.add_argument(
        "--split", help="split it scores (default: validation for dev, test otherwise)"
    )
    opening.add_argument("--start", metavar="TIME", help="when it opens (default: now)")
    opening.add_argument("--end", metavar="TIME", help="when it closes (default: open-ended)")
    opening.add_argument(
        "--per-day",
        type=integer(1, 1_000_000),
        metavar="N",
        help="submissions per team per UTC day in this phase (default: serve's --per-day)",
    )
    opening.add_argument(
        "--total",
        type=integer(1, 1_000_000),
        metavar="N",
        help="submissions per team in this phase (default: serve's --total)",
    )
    opening.add_argument(
        "--select",
        type=integer(1, 100),
        metavar="N",
        help="test phase: submissions a team may select for the private ranking (default 2)",
    )
    opening.add_argument(
        "--seed",
        type=integer(0, 2**62),
        metavar="N",
        help="test phase: seed of the private split (default: random; fixed at first opening)",
    )
    opening.add_argument(
        "--private-fraction",
        type=number(0.0, 1.0, above_minimum=True, below_maximum=True),
        metavar="F",
        help="test phase: share of the test queries in the private part (default 0.5)",
    )
    closing = actions.add_parser("close", help="stop a phase taking submissions")
    add_database_arguments(closing)
    closing.add_argument("name", choices=PHASE_NAMES, metavar="NAME", help="dev, test or closed")
    closing.add_argument("--at", metavar="TIME", help="when (default: now)")
    reveal = actions.add_parser(
        "reveal",
        help="close the test phase and publish the private ranking",
        description="Close the test phase (if open) and rank each team's selected "
        "submissions (its best public one if it selected none) on the private part. Done "
        "once; refused while test-phase submissions are still being scored.",
    )
    add_database_arguments(reveal)
    listing = actions.add_parser("list", help="list the phases")
    add_database_arguments(listing)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard phase` with parsed `args`; return the process exit code."""
    with host_database(args) as db:
        from leaderboard.server import phases

        if args.action == "open":
            times = {k: getattr(args, k) for k in ("start", "end")}
            phase = phases.open_phase(
                db,
                phases.Opening(
                    name=args.name,
                    split=args.split,
                    **{k: None if v is None else phases.parse_time(v) for k, v in times.items()},
                    per_day=args.per_day,
                    total=args.total,
                    max_selected=args.select,
                    seed=args.seed,
                    private_fraction=args.private_fraction,
                ),
            )
            print(f"{_line(phases.public_view(phase))}")
        elif args.action == "close":
            at = None if args.at is None else phases.parse_time(args.at)
            print(_line(phases.public_view(phases.close_phase(db, args.name, at))))
        elif args.action == "reveal":
            revealed = phases.reveal(db)
            for team, ids in sorted(revealed.selected.items()):
                how = "best public (none selected)" if team in revealed.defaulted else "selected"
                print(f"{team}\t{' '.join(f'#{i}' for i in ids)}\t{how}")
            print(f"revealed: {len(revealed.selected)} teams on the private board")
        else:
            for phase in phases.list_phases(db):
                print(_line(phases.public_view(phase)))
    return 0


SERVE_LIMIT = "(serve's)"  # a limit the phase leaves to `serve --per-day` / `--total`


def _line(view: dict) -> str:
    """One phase as a tab-separated line: name, split, opens, closes, revealed, limits (a
    limit the phase does not set reads "(serve's)": `serve --per-day`/`--total` apply)."""
    return "\t".join(
        [
            view["name"],
            view["split"],
            f"opens {view['opens_utc']}",
            f"closes {view['closes_utc'] or '-'}",
            f"revealed {view['revealed_utc'] or '-'}",
            f"per day {view['per_day'] or SERVE_LIMIT}",
            f"total {view['total'] or SERVE_LIMIT}",
        ]
        + ([f"select {view['max_selected']}"] if view["max_selected"] else [])
    )
