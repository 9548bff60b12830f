"""`mrw-leaderboard baseline add RUNS_DIR`: the host puts the harness's own runs on the board,
tagged as baselines (shown, never ranked)."""

from __future__ import annotations

import argparse
from pathlib import Path

from leaderboard.commands.common import add_truth_argument
from leaderboard.commands.team import add_database_arguments, host_database


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard baseline` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "baseline",
        help="put the harness's runs on a leaderboard server's board as baselines",
        description="Host-side, on the server's database (as `team`): `add` scores every "
        "finished run under RUNS_DIR (`mrw-bench run` folders with metrics.json, t2v.run.gz "
        "and v2t.run.gz) against --truth and stores it as a baseline of the host's team: "
        "shown on the board with a badge, never ranked, never the leader. The method name, "
        "training data, code commit, checkpoint SHA-256 and protocol card come from each "
        "run's record.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="score and add the runs of a folder as baselines")
    add_database_arguments(add)
    add_truth_argument(add, "the server's --truth: a folder of split folders or one split")
    add.add_argument("--dataset", help="the server's --dataset label (default: from --truth)")
    add.add_argument(
        "--code-url", default="", metavar="URL", help="http(s) URL of the harness's code"
    )
    add.add_argument("runs_dir", type=Path, metavar="RUNS_DIR", help="folder of run folders")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard baseline add` with parsed `args`; return the process exit code:
    0 when every run is on the board (added now or before), else 2 (each refusal is one
    line; the runs added are kept). A run whose earlier baseline row is not scored is
    reported with that row's reason and not counted."""
    import sys

    from leaderboard.server import SERVER_MODULES, require

    require(SERVER_MODULES)
    from leaderboard.commands.declarations import from_run_folder
    from leaderboard.errors import LeaderboardError
    from leaderboard.server import store, truth
    from leaderboard.server.baselines import Baseline, add_baseline, host_team
    from leaderboard.server.models import SCORED
    from leaderboard.server.store import DuplicateSubmission
    from mrw.bench.compare import CompareError, find_run_dirs
    from mrw.bench.record import RunRecord, RunRecordError
    from mrw.core.untrusted import one_line

    try:
        finished, _ = find_run_dirs([args.runs_dir])
    except CompareError as exc:
        raise LeaderboardError(str(exc)) from None
    if not finished:
        raise LeaderboardError(f"{args.runs_dir}: no finished runs (folders with metrics.json)")
    loaded = truth.load(args.truth, args.dataset)
    added = 0
    with host_database(args) as db:
        team_id = host_team(db)
        for number, folder in enumerate(finished, start=1):
            where = f"[{number}/{len(finished)}] {folder}"
            pair = [folder / f"{d}.run.gz" for d in ("t2v", "v2t")]
            try:
                record = RunRecord.from_disk(folder)
                if not all(path.is_file() for path in pair):
                    raise LeaderboardError("no t2v.run.gz/v2t.run.gz (run before run files)")
                declared, notes = from_run_folder(folder)
                for note in notes:
                    print(f"note: {one_line(note)}", file=sys.stderr)
                baseline = Baseline(
                    name=record.method,
                    description=f"harness run {folder.name}, seed {record.seed}",
                    split=record.split,
                    t2v=pair[0],
                    v2t=pair[1],
                    declared={**declared, "code_url": args.code_url},
                )
                submission_id, failure = add_baseline(db, loaded, team_id, baseline, args.max_bytes)
            except DuplicateSubmission as exc:
                if not exc.own:  # a team sent these very files: they are its submission
                    print(f"{where}: skipped: the same files are a team's submission, "
                          "not a baseline", file=sys.stderr)  # fmt: skip
                    continue
                earlier = None if exc.earlier is None else store.get(db, exc.earlier)
                if earlier is not None and earlier[0].status != SCORED:  # as the first time
                    row = earlier[0]
                    reason = f": {one_line(row.reason)}" if row.reason else ""
                    print(f"{where}: #{row.id} {row.status}{reason}", file=sys.stderr)
                    continue
                print(f"{where}: already on the board", file=sys.stderr)
                added += 1
                continue
            except (LeaderboardError, RunRecordError) as exc:
                print(f"{where}: skipped: {one_line(str(exc))}", file=sys.stderr)
                continue
            if failure:
                print(f"{where}: #{submission_id} failed: {one_line(failure)}", file=sys.stderr)
                continue
            added += 1
            print(f"{where}: baseline #{submission_id} {record.method} added", file=sys.stderr)
    print(f"{added} of {len(finished)} runs on the board as baselines")
    return 0 if added == len(finished) else 2
