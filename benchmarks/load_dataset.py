"""`mrw.load_dataset` on a prepared folder: disk before/after, peak RSS, time to the first batch.

    python benchmarks/load_dataset.py               # a 5,000-row toy dataset
    python benchmarks/load_dataset.py --rows 1000

Builds a toy dataset (GIF bytes inside parquet shards, as `mrw download` prepares MRW), then,
each in a fresh process with an empty Hugging Face cache, loads its train split and takes
the first batch of 32 decoded clips through a DataLoader:

- baseline: what `mrw.load_dataset` did before, `datasets.load_dataset(folder)` (which
  converts every shard, media included, into Arrow files in its cache) plus the frame
  transform;
- `mrw.load_dataset(folder)`: the shards are read in place (`mrw.dataset.inplace`).

Prints disk used by the dataset folder and the cache before and after, the child's peak RSS
(rusage) and the time from the call to the first batch (imports excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
import datasets, torch
from datasets import Video
from mrw.dataset import FrameTransform, collate, load_dataset
folder, cache, mode = sys.argv[1:4]
start = time.perf_counter()  # imports excluded: the same on both sides
if mode == "baseline":
    rows = datasets.load_dataset(folder, split="train", cache_dir=cache)
    rows = rows.cast_column("video", Video(decode=False))
    rows.set_transform(FrameTransform(8, 8.0, 64))
else:
    rows = load_dataset(folder, split="train", size=64, cache_dir=cache)
loader = torch.utils.data.DataLoader(rows, batch_size=32, collate_fn=collate)
batch = next(iter(loader))
assert batch["frames"].shape == (32, 8, 3, 64, 64), batch["frames"].shape
print(json.dumps({"first_batch_s": time.perf_counter() - start, "rows": rows.num_rows,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def disk_bytes(root: Path) -> int:
    if not root.exists():
        return 0
    return sum(p.stat().st_blocks * 512 for p in root.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5000, help="rows of the toy dataset")
    parser.add_argument("--size", type=int, default=64, help="toy frame side (bigger GIFs)")
    args = parser.parse_args()

    from mrw.toy.video import build_toy

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        folder = build_toy(root / "toy", num_pairs=args.rows, size=args.size)
        print(f"built a {args.rows:,}-row toy dataset in {time.perf_counter() - start:.0f} s")
        results = {}
        for mode in ("baseline", "mrw"):
            cache = root / f"hf-{mode}"
            before = disk_bytes(folder) + disk_bytes(cache)
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(cache)}
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(folder), str(cache), mode],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if out.returncode != 0:
                raise SystemExit(f"{mode} failed: {out.stderr[-2000:]}")
            results[mode] = {
                **json.loads(out.stdout.strip().splitlines()[-1]),
                "before": before,
                "after": disk_bytes(folder) + disk_bytes(cache),
            }
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"train split: {results['mrw']['rows']:,} rows; load average {load}")
    print(f"{'loader':<34}{'disk before MiB':>16}{'disk after MiB':>15}{'peak RSS MiB':>13}"
          f"{'first batch s':>14}")  # fmt: skip
    names = {"baseline": "datasets.load_dataset (baseline)", "mrw": "mrw.load_dataset (in place)"}
    for mode, r in results.items():
        print(f"{names[mode]:<34}{r['before'] / 2**20:>16.1f}{r['after'] / 2**20:>15.1f}"
              f"{r['peak_rss_mib']:>13.0f}{r['first_batch_s']:>14.2f}")  # fmt: skip
    base, ours = results["baseline"], results["mrw"]
    print(
        f"extra disk: baseline {(base['after'] - base['before']) / 2**20:.1f} MiB, in place "
        f"{(ours['after'] - ours['before']) / 2**20:.1f} MiB; first batch "
        f"{base['first_batch_s'] / ours['first_batch_s']:.1f}x sooner; peak RSS "
        f"{ours['peak_rss_mib'] / base['peak_rss_mib']:.2f}x the baseline's"
    )


if __name__ == "__main__":
    main()
