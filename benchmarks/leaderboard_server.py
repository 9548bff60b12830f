"""Load test of `mrw-leaderboard serve` on loopback: many teams submitting at once.

Starts the real server (uvicorn subprocess, SQLite board, 2 scoring workers), adds one team
per client, and has `--clients` threads upload `--submissions` run pairs in total (full MRW
test size by default: 5,000 x 5,000 per direction at depth 1,000, 5M lines per file, gzip).
Every submission is distinct: the files share one gzip member of all queries but the last,
followed by a small member ranking the last query with its own noise, so generating 200 of
them costs one `write_run` of the big part. Uploads are streamed (chunked) from disk.

Prints the submit call's latency (p50, p95, max: request sent -> submission id returned),
the time until every submission was scored, throughput, the server's peak RSS (VmHWM of its
process), and checks that every submission was scored exactly once (status `scored`,
`attempts` 1, one board row each) and that sampled metrics equal `mrw-leaderboard score` on
the same bytes. Baseline: the scorer alone (`score_submission` in this process, timed while
re-scoring those samples after the server stopped), against the server's time per submission.

`--phases`: the board is in its test phase with the private split on (`phase open test`), so
every submission is also scored on the public and private parts; the board shows the public
part, then the test phase is revealed and the private board checked (one row per team, each
team's best public submission). The sampled metrics are checked against the reveal's
all-queries metrics. The p95 submit latency and the peak RSS are printed beside the anchors
measured without phases (7.2 s, 914 MiB at full size).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from leaderboard.qrels import write_qrels
from leaderboard.runfile import write_run
from leaderboard.score import score_submission
from mrw.testing.leaderboard_server import LiveServer

BOUNDARY = "mrw-load-test-boundary"
ANCHOR_P95_S, ANCHOR_RSS_MIB = 7.2, 914  # full size, no phases (docs/leaderboard.md)


def _noisy_identity(n_rows: int, n_cols: int, first_row: int, rng: np.random.Generator):
    block = 500
    for start in range(0, n_rows, block):
        rows = min(block, n_rows - start)
        scores = rng.standard_normal((rows, n_cols), dtype=np.float32)
        scores[np.arange(rows), first_row + start + np.arange(rows)] += 2.5
        yield scores


def generate(root: Path, n: int, depth: int, seed: int) -> tuple[Path, dict[str, Path], dict]:
    """Truth and, per direction, the shared gzip member (all queries but the last)."""
    truth = root / "truth"
    sentences = [f"{i:08x}" for i in range(n)]
    videos = [f"gif{i:07d}" for i in range(n)]
    write_qrels(truth / "t2v.qrels", zip(sentences, videos, strict=True))
    write_qrels(truth / "v2t.qrels", zip(videos, sentences, strict=True))
    rng = np.random.default_rng(seed)
    ids = {"t2v": (sentences, videos), "v2t": (videos, sentences)}
    prefixes = {}
    for direction, (queries, docs) in ids.items():
        prefixes[direction] = root / f"{direction}.prefix.gz"
        blocks = _noisy_identity(n - 1, n, 0, rng)
        write_run(prefixes[direction], queries[:-1], docs, blocks, "load", depth=depth)
    return truth, prefixes, ids


def tail(ids: tuple[list[str], list[str]], depth: int, variant: int) -> bytes:
    """The last query's lines, as one gzip member, with noise of its own per variant."""
    queries, docs = ids
    rng = np.random.default_rng(1_000_000 + variant)
    (scores,) = list(_noisy_identity(1, len(docs), len(docs) - 1, rng))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tail.gz"
        write_run(path, queries[-1:], docs, scores, "load", depth=depth)
        return path.read_bytes()


def body(prefixes: dict[str, Path], tails: dict[str, bytes], name: str) -> Iterator[bytes]:
    """A multipart/form-data body, streamed: prefix file in 1 MiB chunks, then the tail."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\n{name}\r\n'
    ).encode()
    for direction in ("t2v", "v2t"):
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{direction}"; '
            f'filename="{direction}.run.gz"\r\nContent-Type: application/gzip\r\n\r\n'
        ).encode()
        with prefixes[direction].open("rb") as handle:
            while chunk := handle.read(1 << 20):
                yield chunk
        yield tails[direction]
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument(
        "--clients", type=int, default=10, help="concurrent clients (one team each)"
    )
    parser.add_argument("--queries", type=int, default=5000, help="queries = gallery per direction")
    parser.add_argument("--depth", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="the server's scoring workers")
    parser.add_argument("--verify", type=int, default=2, help="submissions re-scored locally")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="keep generated files here (default: temp)")
    parser.add_argument(
        "--phases", action="store_true", help="test phase with the private split on, then reveal"
    )
    args = parser.parse_args()
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        truth, prefixes, ids = generate(root, args.queries, args.depth, args.seed)
        tails = [
            {d: tail(ids[d], args.depth, 2 * i + k) for k, d in enumerate(("t2v", "v2t"))}
            for i in range(args.submissions)
        ]
        size = sum(p.stat().st_size for p in prefixes.values()) / 2**20
        print(f"generated truth + {args.submissions} distinct run pairs ({size:.0f} MiB each) "
              f"in {time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip

        n = args.submissions
        server = LiveServer(
            root, truth, "--per-day", str(n), "--total", str(n), "--workers", str(args.workers),
            "--discard-uploads", "--max-upload-bytes", str(1 << 30),
            # every client is on 127.0.0.1: one address, so its cap must cover them all
            "--max-connections-per-ip", str(2 * args.clients + 8),
        )  # fmt: skip
        if args.phases:  # the split is the truth folder's name
            opened = server.cli("phase", "open", "test", "--board", str(server.board),
                                "--split", truth.name, "--seed", str(args.seed))  # fmt: skip
            if opened.returncode != 0:
                raise SystemExit(opened.stderr)
        server.start()
        try:
            tokens = [server.add_team(f"team-{c}") for c in range(args.clients)]
            latencies: dict[int, float] = {}
            ids_of: dict[int, tuple[int, str]] = {}
            errors: list[str] = []

            def client(c: int) -> None:
                headers = {
                    "Authorization": f"Bearer {tokens[c]}",
                    "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                }
                with httpx.Client(base_url=server.url, headers=headers, timeout=600) as http:
                    for i in range(c, n, args.clients):
                        sent = time.perf_counter()
                        response = http.post(
                            "/api/submissions", content=body(prefixes, tails[i], f"run {i}")
                        )
                        latencies[i] = time.perf_counter() - sent
                        if response.status_code != 202:
                            errors.append(f"submission {i}: {response.status_code} {response.text}")
                        else:
                            ids_of[i] = (response.json()["id"], tokens[c])

            began = time.perf_counter()
            threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            uploaded = time.perf_counter() - began
            final = {}
            with httpx.Client(base_url=server.url, timeout=60) as http:
                for i, (submission_id, token) in sorted(ids_of.items()):
                    while True:
                        status = http.get(
                            f"/api/submissions/{submission_id}",
                            headers={"Authorization": f"Bearer {token}"},
                        ).json()
                        if status["status"] in ("scored", "failed"):
                            final[i] = status
                            break
                        time.sleep(0.5)
                all_scored = time.perf_counter() - began
                board = http.get("/api/board").json()["boards"]
                private_rows = -1
                if args.phases:
                    revealed = server.cli("phase", "reveal", "--board", str(server.board))
                    if revealed.returncode != 0:
                        raise SystemExit(revealed.stderr)
                    for i in final:  # the all-queries metrics, shown after the reveal
                        submission_id, token = ids_of[i]
                        status = http.get(
                            f"/api/submissions/{submission_id}",
                            headers={"Authorization": f"Bearer {token}"},
                        ).json()
                        final[i] = {**status, "metrics": status.get("all_queries_metrics")}
                    after = http.get("/api/board").json()["boards"]
                    private_rows = sum(
                        len(b["submissions"]) for b in after if b["split"].endswith("(private)")
                    )
            peak_rss = server.peak_rss_bytes()
        finally:
            server.stop()

        rows = [r for b in board for r in b["submissions"]]
        scored_once = sum(s["status"] == "scored" and s["attempts"] == 1 for s in final.values())
        board_ids = sorted(r["id"] for r in rows)
        exactly_once = (
            not errors and scored_once == n and board_ids == sorted(v[0] for v in ids_of.values())
        )
        verified, alone = 0, []
        for i in range(0, n, max(1, n // max(1, args.verify)))[: args.verify]:
            files = {}
            for direction in ("t2v", "v2t"):
                files[direction] = root / f"verify.{direction}.gz"
                files[direction].write_bytes(prefixes[direction].read_bytes() + tails[i][direction])
            started = time.perf_counter()
            local = json.loads(
                json.dumps(score_submission(truth, files["t2v"], files["v2t"]).to_json())
            )
            alone.append(time.perf_counter() - started)
            verified += local == final[i].get("metrics")

        lat = np.array([latencies[i] for i in sorted(latencies)])
        lines = 2 * args.queries * min(args.depth, args.queries)
        print(f"\n{n} submissions from {args.clients} clients, {lines:,} lines each "
              f"({args.queries} queries x depth {args.depth} per direction), "
              f"{args.workers} scoring workers")  # fmt: skip
        print(f"submit call latency: p50 {np.percentile(lat, 50):.2f} s, "
              f"p95 {np.percentile(lat, 95):.2f} s, max {lat.max():.2f} s")  # fmt: skip
        print(f"all uploaded after {uploaded:.1f} s, all scored after {all_scored:.1f} s "
              f"({n / all_scored * 60:.1f} submissions/min)")  # fmt: skip
        print(f"server peak RSS: {peak_rss / 2**20:.0f} MiB")
        if alone:  # the baseline: the scorer alone, in this process, after the server stopped
            per_submission = all_scored / n
            print(f"baseline, the scorer alone on one pair: {np.mean(alone):.2f} s; the server "
                  f"took {per_submission:.2f} s per submission end to end "
                  f"({per_submission / np.mean(alone):.2f}x, {args.workers} workers)")  # fmt: skip
        print(f"scored exactly once: {scored_once}/{n}; board rows {len(rows)}; "
              f"refused {len(errors)}; metrics equal to the scorer's on {verified}/"
              f"{min(args.verify, n)} re-scored locally")  # fmt: skip
        for error in errors[:5]:
            print(error)
        if args.phases:
            p95 = float(np.percentile(lat, 95))
            print(f"phases on (test phase, private split): p95 {p95:.2f} s against the anchor "
                  f"{ANCHOR_P95_S} s ({p95 / ANCHOR_P95_S:.2f}x); peak RSS "
                  f"{peak_rss / 2**20:.0f} MiB against {ANCHOR_RSS_MIB} MiB "
                  f"({peak_rss / 2**20 / ANCHOR_RSS_MIB:.2f}x); the anchors are the full-size run "
                  f"without phases: compare at full size only; private board rows "
                  f"{private_rows} (one per team: {args.clients})")  # fmt: skip
        if (
            not exactly_once
            or verified < min(args.verify, n)
            or (args.phases and private_rows != args.clients)
        ):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
