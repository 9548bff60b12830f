"""Run-file pairs at the real datasets' sizes: write time, bytes, and the scorer's verdict.

    python benchmarks/runfiles.py                       # mrw, tgif-paper, tgif-all
    python benchmarks/runfiles.py --datasets mrw --no-score

For each dataset shape (MRW test: 5,000 x 5,000; TGIF test, 'paper' protocol: 11,360 videos x
11,360 sentences; TGIF test, 'all-sentences': 11,360 x 34,101) it builds a noisy-identity
similarity matrix with ids shaped like the real ones, evaluates it as the harness does, and
writes the run pair with the harness's writer at the dataset's default depth
(`mrw.bench.runfiles`). It prints write time, bytes on disk and uncompressed, then scores the
pair with `mrw-leaderboard score`'s defaults and checks the metrics equal the harness's.

Baseline, measured in the same run: the previous default (full depth, tag `METHOD-RUN_ID`),
written for the first --baseline-queries queries of each direction and scaled by the number of
queries (full-depth TGIF is 775M lines; writing it whole takes over ten minutes). Wall times
move with the machine's load (printed); CPU seconds much less so.
"""

from __future__ import annotations

import argparse
import gzip
import os
import tempfile
import time
from pathlib import Path

import torch

from leaderboard.qrels import write_qrels
from leaderboard.runfile import write_run
from leaderboard.score import score_submission
from mrw.bench.evaluator import evaluate_scores
from mrw.bench.runfiles import write_evaluation_runs

SHAPES = {  # name: (dataset, videos, sentences)
    "mrw": ("mrw", 5000, 5000),
    "tgif-paper": ("tgif", 11360, 11360),
    "tgif-all": ("tgif", 11360, 34101),
}
OLD_TAG = "pvse-20261130-162500-3f9a1c2e"  # what `mrw-bench run` used to write on every line


def ids(dataset: str, n_videos: int, n_sentences: int) -> tuple[list[str], list[str], list[int]]:
    """(video ids, sentence ids, video index of each sentence), shaped like the real ids."""
    pair_video = [j * n_videos // n_sentences for j in range(n_sentences)]
    if dataset == "mrw":  # Reddit post ids, one sentence per video
        videos = [f"{(i * 7919 + 10**7) % 36**6:x}"[:7] for i in range(n_videos)]
        return videos, [f"t{v}" for v in videos], pair_video
    videos = [f"tumblr_n{i * 104729 % 10**9:09d}abCDefGH1_400" for i in range(n_videos)]
    counts: dict[int, int] = {}
    sentences = []
    for v in pair_video:
        counts[v] = counts.get(v, -1) + 1
        sentences.append(f"{videos[v]}#{counts[v]}")
    return videos, sentences, pair_video


def uncompressed_bytes(path: Path) -> int:
    total = 0
    with gzip.open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            total += len(chunk)
    return total


def baseline(root: Path, ev, n_queries: int) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds, gzip bytes, lines) of the old default, scaled from `n_queries`
    per direction."""
    seconds, cpu, size, lines = 0.0, 0.0, 0, 0
    for queries, docs, matrix in (
        (ev.sentence_ids, ev.video_ids, ev.scores.T),
        (ev.video_ids, ev.sentence_ids, ev.scores),
    ):
        n = min(n_queries, len(queries))
        path = root / "baseline.run.gz"
        start, cpu_start = time.perf_counter(), time.process_time()
        write_run(path, queries[:n], docs, matrix[:n], OLD_TAG)
        scale = len(queries) / n
        seconds += (time.perf_counter() - start) * scale
        cpu += (time.process_time() - cpu_start) * scale
        size += int(path.stat().st_size * scale)
        lines += len(queries) * len(docs)
        path.unlink()
    return seconds, cpu, size, lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--no-score", action="store_true", help="skip scoring the pairs")
    parser.add_argument("--baseline-queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the shapes (quick runs)")
    args = parser.parse_args()

    rows = []
    for name in args.datasets:
        dataset, n_videos, n_sentences = SHAPES[name]
        n_videos, n_sentences = (max(2, round(n * args.scale)) for n in (n_videos, n_sentences))
        videos, sentences, pair_video = ids(dataset, n_videos, n_sentences)
        gen = torch.Generator().manual_seed(args.seed)
        scores = torch.randn(n_videos, n_sentences, generator=gen)
        pair_index = torch.tensor(pair_video)
        scores[pair_index, torch.arange(n_sentences)] += 3.0  # MedR in the tens to hundreds
        ev = evaluate_scores(scores, videos, sentences, pair_index)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            start, cpu_start = time.perf_counter(), time.process_time()
            written = write_evaluation_runs(root, dataset, ev, "pvse", None)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            files = written["run_files"]
            on_disk = sum(f["bytes"] for f in files.values())
            raw = {d: uncompressed_bytes(root / f"{d}.run.gz") for d in files}
            verdict = "not scored"
            if not args.no_score:
                truth = root / "truth"
                pairs = [(s, videos[v]) for s, v in zip(sentences, pair_video, strict=True)]
                write_qrels(truth / "t2v.qrels", pairs)
                write_qrels(truth / "v2t.qrels", sorted((v, s) for s, v in pairs))
                start = time.perf_counter()
                scored = score_submission(truth, root / "t2v.run.gz", root / "v2t.run.gz")
                same = scored == written["metrics"]
                verdict = (
                    f"{'identical' if same else 'DIFFERENT'} ({time.perf_counter() - start:.0f} s)"
                )
            base = baseline(root, ev, args.baseline_queries)
        lines = sum(f["lines"] for f in files.values())
        print(
            f"{name}: {lines:,} lines written in {seconds:.1f} s ({cpu:.1f} CPU-s), "
            f"{on_disk:,} bytes on disk, {max(raw.values()):,} bytes in the larger file "
            f"uncompressed, {verdict}",
            flush=True,
        )
        measured = (name, n_videos, n_sentences, files, lines, seconds, cpu, on_disk, raw, verdict)
        rows.append((*measured, *base, written["metrics"]))
        del scores, ev

    load = os.getloadavg()
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"{'shape':<11} {'videos x sentences':>19} {'depth t2v/v2t':>14} {'lines':>7} "
        f"{'write s':>8} {'CPU-s':>6} {'pair MiB':>9} {'max file MiB raw':>17}  scorer (defaults)"
    )
    for name, nv, ns, files, lines, seconds, cpu, on_disk, raw, verdict, *_ in rows:
        depths = f"{files['t2v']['depth']}/{files['v2t']['depth']}"
        shape = f"{nv:,} x {ns:,}"
        print(
            f"{name:<11} {shape:>19} {depths:>14} {lines / 1e6:>6.1f}M {seconds:>8.1f} "
            f"{cpu:>6.1f} {on_disk / 2**20:>9.0f} {max(raw.values()) / 2**20:>17.0f}  {verdict}"
        )
    print(
        "\nbaseline: the previous default (full depth, run-id tag), scaled from "
        f"{args.baseline_queries} queries per direction"
    )
    for row in rows:
        name, cpu, on_disk = row[0], row[6], row[7]
        base_s, base_cpu, base_bytes, base_lines, m = row[10:]
        print(
            f"{name:<11} {base_lines / 1e6:>7.1f}M lines, {base_s:>7.0f} s ({base_cpu:.0f} "
            f"CPU-s), {base_bytes / 2**30:>6.2f} GiB gzip -> {base_cpu / cpu:.1f}x less CPU, "
            f"{base_bytes / on_disk:.1f}x smaller; MedR t2v {m.t2v.medr}, v2t {m.v2t.medr}, "
            f"MeanR t2v {m.t2v.meanr}"
        )


if __name__ == "__main__":
    main()
