"""Downloader throughput vs a plain sequential `requests` loop, on a loopback host with latency.

    python benchmarks/download.py                  # full size: 1,000 files, 50 ms per request
    python benchmarks/download.py --n 200          # small, for a shared 2-core machine

Both sides fetch the same files from the same server in the same run. The baseline is what a
script would do: `requests.get(url).content` written to a file, one after another. The
downloader does everything it does in production (SSRF checks, sniffing, SHA-256, decode
probe, content-addressed atomic writes). Prints items/s for each and the ratio (target >= 20x).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the loopback media host and generated media

from fakes.media import make_gif
from fakes.media_server import MediaServer

from mrw.collect.downloader import DownloaderConfig, DownloadRequest, download_many
from mrw.collect.store import MediaStore


def serve(
    n: int, latency_s: float, ports: multiprocessing.Queue, stop: multiprocessing.Event
) -> None:
    """The media host, in its own process (a real host does not share our interpreter's GIL)."""
    with MediaServer(latency_s=latency_s) as server:
        for i in range(n):
            server.add(f"/m/{i}.gif", make_gif(i), content_type="image/gif")
        ports.put(server.base_url)
        stop.wait()


def sequential(urls: list[str], out: Path) -> float:
    started = time.perf_counter()
    with requests.Session() as session:
        for i, url in enumerate(urls):
            response = session.get(url, timeout=30)
            response.raise_for_status()
            (out / f"{i}.gif").write_bytes(response.content)
    return time.perf_counter() - started


def concurrent(urls: list[str], out: Path, config: DownloaderConfig) -> tuple[float, int]:
    started = time.perf_counter()
    requests_ = (DownloadRequest(str(i), url) for i, url in enumerate(urls))
    ok = sum(result.ok for result in download_many(requests_, config, MediaStore(out)))
    return time.perf_counter() - started, ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="files for the downloader")
    parser.add_argument(
        "--baseline-n", type=int, help="files for the sequential loop (default: --n)"
    )
    parser.add_argument("--latency-ms", type=float, default=50.0, help="server delay per request")
    parser.add_argument(
        "--workers", type=int, default=40, help="(more threads lose to the GIL on 2 cores)"
    )
    parser.add_argument("--per-host", type=int, default=40)
    parser.add_argument(
        "--no-validate", action="store_true", help="skip the decode probe in the downloader"
    )
    args = parser.parse_args()

    ports: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    host = multiprocessing.Process(
        target=serve, args=(args.n, args.latency_ms / 1000, ports, stop), daemon=True
    )
    host.start()
    with tempfile.TemporaryDirectory() as tmp:
        base_url = ports.get(timeout=300)
        urls = [f"{base_url}/m/{i}.gif" for i in range(args.n)]
        config = DownloaderConfig(
            workers=args.workers,
            per_host=args.per_host,
            allow_private=True,
            validate=not args.no_validate,
        )
        concurrent(urls[:8], Path(tmp) / "warmup", config)  # imports and first-connection costs
        baseline_urls = urls[: args.baseline_n or args.n]
        base_s = sequential(baseline_urls, Path(tmp))
        ours_s, ok = concurrent(urls, Path(tmp) / "store", config)
    stop.set()
    host.join(timeout=10)
    assert ok == args.n, f"only {ok}/{args.n} downloads succeeded"
    base_rate, ours_rate = len(baseline_urls) / base_s, args.n / ours_s
    print(
        f"loopback host, {args.latency_ms:.0f} ms latency per request, {args.n} GIFs "
        f"(baseline on {len(baseline_urls)})"
    )
    print(f"{'method':<44}{'items/s':>10}{'seconds':>10}")
    print(f"{'sequential requests loop (baseline)':<44}{base_rate:>10.1f}{base_s:>10.2f}")
    label = f"mrw downloader ({args.workers} workers{', no probe' if args.no_validate else ''})"
    print(f"{label:<44}{ours_rate:>10.1f}{ours_s:>10.2f}")
    print(f"speed-up: {ours_rate / base_rate:.1f}x (target >= 20x)")


if __name__ == "__main__":
    main()
