"""How long the hosted board takes to build its standings (`GET /api/board`, `GET /`).

Fills a SQLite server database with `--submissions` scored submissions of `--teams` teams
(MRW test size by default: 5,000 pairs, per-query ranks stored as the worker stores them),
then times, in this process:

- baseline: the board before revision 0004 (`store.scored` + `render.build_tables`);
- cold: `standings.build(standings.load(db, truth))` with an empty test cache (every row tested
  against its leader: the paired t-test and the 2,000-resample bootstrap);
- warm: the same again (what a request costs after the scoring worker's `standings.warm`).

Prints each time and its ratio to the baseline, measured in the same run.

    python benchmarks/board_standings.py --submissions 100
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from leaderboard.metrics import combine, ranks_to_metrics
from leaderboard.render import build_tables
from leaderboard.server import query_ranks, standings, store, teams
from leaderboard.server.db import Database, database_url
from leaderboard.server.scoring import Outcome
from leaderboard.server.truth import Truth


def fill(db: Database, submissions: int, team_count: int, pairs: int) -> None:
    """`submissions` scored rows over `team_count` teams, each with its own noisy ranks."""
    rng = np.random.default_rng(0)
    ids = [teams.authenticate(db, teams.add_team(db, f"team {t}"))[0] for t in range(team_count)]
    for i in range(submissions):
        submission_id = store.reserve(db, ids[i % team_count], None)
        upload = store.Upload(
            name=f"m{i}", description="", dataset="mrw", split="test", truth_sha256="f" * 64,
            t2v_sha256=f"{i:064x}", v2t_sha256="0" * 64,
        )  # fmt: skip
        store.enqueue(db, submission_id, upload, claimed=True)
        scale = 5 + 45 * rng.random()
        t2v = np.maximum(1, rng.exponential(scale, pairs).astype(np.int64))
        v2t = np.maximum(1, rng.exponential(scale, pairs).astype(np.int64))
        metrics = combine(ranks_to_metrics(t2v, pairs), ranks_to_metrics(v2t, pairs))
        packed = query_ranks.pack(t2v, v2t, np.arange(pairs))
        outcome = Outcome(metrics=metrics, rankings_sha256=f"{i:064x}", query_ranks=packed)
        store.record(db, submission_id, outcome, "benchmark")


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(database_url(Path(folder) / "board.db", None))
        db.migrate()
        print(f"filling {args.submissions} submissions of {args.pairs} pairs ...", flush=True)
        fill(db, args.submissions, args.teams, args.pairs)
        baseline = timed(lambda: build_tables(store.scored(db)))
        truth = Truth("bench", {}, "test")  # no phases: every row on its split's board
        cold = timed(lambda: standings.build(standings.load(db, truth)))
        warm = timed(lambda: standings.build(standings.load(db, truth)))
        db.close()
    print(f"baseline (board before 0004): {baseline:.3f} s")
    print(f"standings, cold test cache:   {cold:.3f} s ({cold / baseline:.1f}x baseline)")
    print(f"standings, warm test cache:   {warm:.3f} s ({warm / baseline:.1f}x baseline)")


if __name__ == "__main__":
    main()
