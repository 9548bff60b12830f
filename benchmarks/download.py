"""Downloader throughput vs a plain sequential `requests` loop, on a loopback host with latency.

    python benchmarks/download.py                  # 1,000 files, 50 ms per request, 3 rounds
    python benchmarks/download.py --n 300          # smaller

Both sides fetch the same files from the same server in the same run, in interleaved rounds
(baseline, then downloader), each printed with the load average, since a shared machine's
load moves the ratio. The baseline is what a script would do: `requests.get(url).content`
written to a file, one after another (on --baseline-n files; its rate is per file). The
downloader does everything it does in production (SSRF checks, sniffing, SHA-256, decode
probe, content-addressed atomic writes). Prints items/s for each and the ratio (target >= 20x).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

import requests

from mrw.net.downloader import DownloaderConfig, DownloadRequest, download_many
from mrw.net.store import MediaStore
from mrw.testing.media import make_gif
from mrw.testing.media_server import MediaServer


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
        "--baseline-n", type=int, default=200, help="files for the sequential loop (default 200)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="server delay per request")
    parser.add_argument("--workers", type=int, default=40)
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
    config = DownloaderConfig(
        workers=args.workers,
        per_host=args.per_host,
        allow_private=True,
        validate=not args.no_validate,
    )
    label = f"mrw downloader ({args.workers} workers{', no probe' if args.no_validate else ''})"
    print(
        f"loopback host, {args.latency_ms:.0f} ms latency per request; downloader on {args.n} "
        f"GIFs, baseline (sequential requests loop) on {min(args.baseline_n, args.n)}; "
        f"{os.cpu_count()} CPUs"
    )
    header = f"{'round':<7}{'baseline items/s':>17}{label + ' items/s':>42}{'speed-up':>10}"
    print(f"{header}  load average")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        base_url = ports.get(timeout=300)
        urls = [f"{base_url}/m/{i}.gif" for i in range(args.n)]
        concurrent(urls[:8], Path(tmp) / "warmup", config)  # imports and first-connection costs
        baseline_urls = urls[: args.baseline_n]
        for round_ in range(1, args.rounds + 1):
            base_s = sequential(baseline_urls, Path(tmp))
            ours_s, ok = concurrent(urls, Path(tmp) / f"store{round_}", config)
            assert ok == args.n, f"only {ok}/{args.n} downloads succeeded"
            base_rate, ours_rate = len(baseline_urls) / base_s, args.n / ours_s
            ratios.append(ours_rate / base_rate)
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"{round_:<7}{base_rate:>17.1f}{ours_rate:>42.1f}{ratios[-1]:>9.1f}x  {load}")
    stop.set()
    host.join(timeout=10)
    print(
        f"speed-up: median {statistics.median(ratios):.1f}x, best {max(ratios):.1f}x, worst "
        f"{min(ratios):.1f}x over {len(ratios)} rounds (target >= 20x)"
    )


if __name__ == "__main__":
    main()
