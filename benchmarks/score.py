"""Scoring speed and memory: `mrw-leaderboard score` against ranx and pytrec_eval, same run pair.

Generates a t2v/v2t run pair (default 5,000 queries x depth 1,000 = 10M lines, the size of
an MRW test split scored to depth 1,000), then times, each in a fresh process:

- `mrw-leaderboard --threads T score --json` (parse + validate + R@1/5/10, MedR, MeanR, nMR,
  mAP, nDCG@10, both directions), at 1 and 2 threads (`--threads`)
- ranx (anchor): `Qrels.from_file` + `Run.from_file` + `evaluate` of hit_rate@1/5/10 and MRR
  (the first-relevant-rank statistics ranx has) for both directions
- pytrec_eval (anchor, trec_eval's C code): `parse_qrel` + `parse_run` + `RelevanceEvaluator`
  with `recip_rank`, `success`, `map` and `ndcg_cut.10` (the same metrics as ours); its
  first-relevant ranks (1 / recip_rank) must give exactly our metrics, ties included, and
  its mean `map` and `ndcg_cut_10` our mAP and nDCG@10

and prints wall time, CPU time, peak RSS (from the child's rusage), the ratios and the load
average: the median of `--rounds` rounds (default 3), each round timing every command once in
turn, so that a burst of load on the shared machine touches all of them alike. The anchors
come with the `bench` extra (`pip install -e '.[bench]'`). Run small here with
`--queries 500`; full size by default (about 2 minutes with 3 rounds, most of it the
anchors).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from leaderboard.metrics import Metrics, combine, interval, ranks_to_metrics

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

PYTREC_EVAL_SCRIPT = """
import json, math, sys, time
import pytrec_eval
MEASURES = {"recip_rank", "success", "map", "ndcg_cut.10"}

def score(truth, t2v, v2t):
    ranks, means = {}, {}
    for direction, path in (("t2v", t2v), ("v2t", v2t)):
        with open(f"{truth}/{direction}.qrels") as f:
            qrels = pytrec_eval.parse_qrel(f)
        with open(path) as f:
            run = pytrec_eval.parse_run(f)
        result = pytrec_eval.RelevanceEvaluator(qrels, MEASURES).evaluate(run)
        del run
        ranks[direction] = [round(1 / r["recip_rank"]) if r["recip_rank"] else 0
                            for r in result.values()]
        means[direction] = {m: math.fsum(r[m] for r in result.values()) / len(result)
                            for m in ("map", "ndcg_cut_10")}
    return ranks, means

start = time.perf_counter()
ranks, means = score(*sys.argv[1:4])
print(json.dumps({"seconds": time.perf_counter() - start, "ranks": ranks, "means": means}))
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
    """(wall s, CPU s, peak RSS MiB, stdout) of a child process, from its own rusage.

    Linux carries a process's peak RSS across `exec`, so a child's starts at its parent's
    RSS when spawned: this process stays below the children's own baseline (~60 MiB, the
    interpreter with numpy; the files are generated in another process).
    """
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


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--queries", type=int, default=5000, help="queries (= gallery) per direction"
    )
    parser.add_argument("--depth", type=int, default=1000, help="documents per query")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2], help="scorer thread counts to time"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians are reported"
    )
    parser.add_argument("--skip-anchors", action="store_true", help="time only the scorer")
    parser.add_argument("--workdir", type=Path, help="keep generated files here (default: temp)")
    args = parser.parse_args()

    samples: dict[str, list[tuple[float, float, float]]] = {}
    loads = [f"start: {load_average()}"]

    def record(name: str, measured: tuple[float, float, float, str]) -> str:
        samples.setdefault(name, []).append(measured[:3])
        return measured[3]

    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        # In a child process: a child's peak RSS (rusage) starts from its parent's RSS at the
        # spawn, so the files' generation must not swell this process.
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            truth, t2v, v2t = pool.apply(generate, (root, args.queries, args.depth, args.seed))
            warm = pool.apply(generate, (root / "warmup", 20, 5, args.seed))  # ranx's warm-up
        lines = 2 * args.queries * min(args.depth, args.queries)
        size = (t2v.stat().st_size + v2t.stat().st_size) / 2**20
        print(f"generated {lines:,} lines ({size:.0f} MiB) in {time.perf_counter() - start:.1f} s "
              f"with leaderboard.runfile.write_run; {args.rounds} round(s) follow")  # fmt: skip

        metrics = None
        for round_index in range(args.rounds):
            for threads in args.threads:
                command = ["--threads", str(threads), "score", "--truth", str(truth), str(t2v)]
                argv = [sys.executable, "-m", "leaderboard.cli", *command, str(v2t), "--json"]
                this = Metrics.from_json(json.loads(record(f"mrw-leaderboard, {threads} thr",
                                                           measure(argv))))  # fmt: skip
                assert metrics is None or this == metrics, "runs or thread counts disagree"
                metrics = this
            if args.skip_anchors:
                continue
            pytrec = [sys.executable, "-c", PYTREC_EVAL_SCRIPT, str(truth), str(t2v), str(v2t)]
            check_pytrec_eval(json.loads(record("pytrec_eval, whole process", measure(pytrec))),
                              metrics, args)  # fmt: skip
            ranx = [sys.executable, "-c", RANX_SCRIPT, *map(str, (truth, t2v, v2t, *warm))]
            reference = json.loads(record("ranx, whole process", measure(ranx)))
            samples.setdefault("ranx, load+evaluate only", []).append(
                (reference["seconds"], math.nan, samples["ranx, whole process"][-1][2])
            )
            if round_index == 0:
                check_ranx(reference, metrics)
            loads.append(f"after round {round_index + 1}: {load_average()}")

    rows = {name: tuple(float(np.median(column)) for column in zip(*runs, strict=True))
            for name, runs in samples.items()}  # fmt: skip
    print(f"\n{lines:,} lines, {args.queries} queries x depth {args.depth} per direction; "
          f"medians of {args.rounds} round(s), wall range in brackets")  # fmt: skip
    print(f"{'':28} {'wall s':>8} {'(min-max)':>13} {'CPU s':>8} {'peak RSS MiB':>13}")
    for name, (wall, cpu, rss) in rows.items():
        walls = [run[0] for run in samples[name]]
        spread = f"({min(walls):.2f}-{max(walls):.2f})"
        cpu_text = "-" if math.isnan(cpu) else f"{cpu:.2f}"  # timed inside ranx's process
        print(f"{name:28} {wall:8.2f} {spread:>13} {cpu_text:>8} {rss:13.0f}")
    anchors = {name: value for name, value in rows.items() if "mrw" not in name}
    whole = {name: value for name, value in anchors.items() if "only" not in name}
    for name, (wall, cpu, rss) in rows.items():
        if "mrw" not in name or not whole:
            continue
        ratios = ", ".join(
            f"{anchor_wall / wall:.1f}x / {anchor_cpu / cpu:.1f}x {anchor.split(',')[0]}"
            for anchor, (anchor_wall, anchor_cpu, _) in whole.items()
        )
        print(
            f"{name}: {ratios} (wall / CPU time); "
            f"{whole['ranx, whole process'][2] / rss:.1f}x less peak memory than ranx, "
            f"{whole['pytrec_eval, whole process'][2] / rss:.1f}x than pytrec_eval"
        )
    if whole:
        print("metrics identical to pytrec_eval's (ties included; mAP and nDCG@10 to 1e-12)")
    print(f"rsum {metrics.rsum}, t2v MedR {metrics.t2v.medr}, v2t MedR {metrics.v2t.medr}")
    print("load average (1, 5, 15 min) " + "; ".join(loads))


def check_pytrec_eval(reference: dict, metrics: Metrics, args: argparse.Namespace) -> None:
    """pytrec_eval's first-relevant ranks give exactly our metrics; its mAP and nDCG@10 ours."""
    theirs = combine(
        *(
            ranks_to_metrics(np.array(reference["ranks"][d]), args.queries, depth=args.depth)
            for d in ("t2v", "v2t")
        )
    )
    assert theirs.to_json() == metrics.to_json(), (theirs.to_json(), metrics.to_json())
    for direction in ("t2v", "v2t"):
        ours = metrics.direction(direction)
        for name, value in (("map", ours.mean_ap), ("ndcg_cut_10", ours.ndcg)):
            expected = reference["means"][direction][name]
            assert abs(interval(value)[0] - expected) < 1e-12, (direction, name, value, expected)


def check_ranx(reference: dict, metrics: Metrics) -> None:
    """ranx's hit rates against our R@k (a warning only: ranx breaks ties arbitrarily)."""
    for direction in ("t2v", "v2t"):
        for k in (1, 5, 10):
            ours = interval(metrics.direction(direction).recall[k])[0]
            theirs = 100 * reference["metrics"][direction][f"hit_rate@{k}"]
            if abs(ours - theirs) > 1e-9:
                print(f"warning: {direction} R@{k} differs: {ours} vs ranx {theirs}")


if __name__ == "__main__":
    main()
