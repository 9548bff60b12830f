"""Scoring speed and memory: `mrw-leaderboard score` against ranx on the same run pair.

Generates a t2v/v2t run pair (default 5,000 queries x depth 1,000 = 10M lines, the size of
an MRW test split scored to depth 1,000), then times, each in a fresh process:

- `mrw-leaderboard score --json` (parse + validate + R@1/5/10, MedR, MeanR, nMR, both directions)
- ranx (baseline): `Qrels.from_file` + `Run.from_file` + `evaluate` of hit_rate@1/5/10 and MRR
  (the first-relevant-rank statistics ranx has) for both directions

and prints wall time, peak RSS (from the child's rusage) and the ratios. Run small here with
`--queries 500`; full size by default.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from leaderboard.metrics import Metrics, interval

RANX_SCRIPT = """
import json, sys, time
from ranx import Qrels, Run, evaluate
METRICS = ["hit_rate@1", "hit_rate@5", "hit_rate@10", "mrr"]

def score(truth, t2v, v2t):
    out = {}
    for direction, path in (("t2v", t2v), ("v2t", v2t)):
        qrels = Qrels.from_file(f"{truth}/{direction}.qrels", kind="trec")
        run = Run.from_file(path, kind="trec")
        out[direction] = evaluate(qrels, run, METRICS, make_comparable=True)
    return out

score(*sys.argv[4:7])  # warm-up on tiny files: numba's JIT compilation is not charged to ranx
start = time.perf_counter()
out = score(*sys.argv[1:4])
print(json.dumps({"seconds": time.perf_counter() - start, "metrics": out}))
"""


def generate(root: Path, n_queries: int, depth: int, seed: int) -> tuple[Path, Path, Path]:
    """Qrels (query i <-> item i) and runs from a noisy identity similarity, full gallery."""
    from leaderboard.qrels import write_qrels
    from leaderboard.runfile import write_run

    truth = root / "truth"
    sentences = [f"{i:08x}" for i in range(n_queries)]  # Reddit-like post ids
    videos = [f"gif{i:07d}" for i in range(n_queries)]
    write_qrels(truth / "t2v.qrels", zip(sentences, videos, strict=True))
    write_qrels(truth / "v2t.qrels", zip(videos, sentences, strict=True))
    rng = np.random.default_rng(seed)
    block = 500

    def blocks(transpose: bool):  # a noisy identity, generated block by block (never N x N)
        for start in range(0, n_queries, block):
            rows = min(block, n_queries - start)
            scores = rng.standard_normal((rows, n_queries), dtype=np.float32)
            scores[np.arange(rows), start + np.arange(rows)] += 2.5
            yield scores

    t2v, v2t = root / "t2v.run", root / "v2t.run"
    write_run(t2v, sentences, videos, blocks(False), "bench", depth=depth)
    write_run(v2t, videos, sentences, blocks(True), "bench", depth=depth)
    return truth, t2v, v2t


def measure(argv: list[str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MiB, stdout) of a child process, from its own rusage."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout = process.stdout.read()
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({process.returncode}): {stderr.decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout.decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--queries", type=int, default=5000, help="queries (= gallery) per direction"
    )
    parser.add_argument("--depth", type=int, default=1000, help="documents per query")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-ranx", action="store_true", help="time only the scorer")
    parser.add_argument("--workdir", type=Path, help="keep generated files here (default: temp)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        truth, t2v, v2t = generate(root, args.queries, args.depth, args.seed)
        lines = 2 * args.queries * min(args.depth, args.queries)
        size = (t2v.stat().st_size + v2t.stat().st_size) / 2**20
        print(f"generated {lines:,} lines ({size:.0f} MiB) in {time.perf_counter() - start:.1f} s "
              f"with leaderboard.runfile.write_run")  # fmt: skip

        ours = measure([sys.executable, "-m", "leaderboard.cli", "score", "--truth", str(truth),
                        str(t2v), str(v2t), "--json"])  # fmt: skip
        metrics = Metrics.from_json(json.loads(ours[3]))
        rows = [("mrw-leaderboard score", *ours[:3])]
        if not args.skip_ranx:
            warm = generate(root / "warmup", 20, 5, args.seed)
            ranx = measure([sys.executable, "-c", RANX_SCRIPT, *map(str, (truth, t2v, v2t, *warm))])
            reference = json.loads(ranx[3])
            rows.append(("ranx, whole process", *ranx[:3]))
            rows.append(("ranx, load+evaluate only", reference["seconds"], math.nan, ranx[2]))
            for direction in ("t2v", "v2t"):
                for k in (1, 5, 10):
                    ours_value = interval(metrics.direction(direction).recall[k])[0]
                    theirs = 100 * reference["metrics"][direction][f"hit_rate@{k}"]
                    if abs(ours_value - theirs) > 1e-9:
                        print(f"warning: {direction} R@{k} differs: {ours_value} vs ranx {theirs}")

    print(f"\n{lines:,} lines, {args.queries} queries x depth {args.depth} per direction")
    print(f"{'':26} {'wall s':>8} {'CPU s':>8} {'peak RSS MiB':>13}")
    for name, wall, cpu, rss in rows:
        print(f"{name:26} {wall:8.2f} {cpu:8.2f} {rss:13.0f}")
    if len(rows) > 1:
        ours_wall = rows[0][1]
        print(
            f"speed-up vs ranx: {rows[1][1] / ours_wall:.1f}x (whole processes), "
            f"{rows[2][1] / ours_wall:.1f}x (ranx load+evaluate only, JIT and start-up "
            f"excluded, against our whole process); "
            f"peak memory {rows[1][3] / rows[0][3]:.1f}x lower"
        )
    print(f"rsum {metrics.rsum}, t2v MedR {metrics.t2v.medr}, v2t MedR {metrics.v2t.medr}")


if __name__ == "__main__":
    main()
