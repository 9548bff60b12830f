"""`mrw collect` from dumps: the SSRF guard by default, resume after SIGKILL, clear errors."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mrw.cli import main
from mrw.collect.state import STATE_FILE, iter_collected
from mrw.testing.media import make_gif
from mrw.testing.media_server import MediaServer, Route


def write_dump(path: Path, server: MediaServer, n: int, *, flaky_every: int = 0) -> list[bytes]:
    """n reaction posts whose GIFs live on `server`, plus noise the filter must drop."""
    bodies = [make_gif(seed) for seed in range(n)]
    lines = []
    for i, body in enumerate(bodies):
        before = [Route(status=503)] if flaky_every and i % flaky_every == 0 else []
        server.add(f"/m/{i}.gif", body, content_type="image/gif", before=before)
        lines.append(
            {
                "id": f"p{i:03d}",
                "title": f"MRW case {i}",
                "url": server.url(f"/m/{i}.gif"),
                "subreddit": "reactiongifs",
                "created_utc": 1_400_000_000 + i,
                "score": 10,
            }
        )
    lines.append(
        {"id": "x1", "title": "A question for you", "url": server.url("/m/0.gif"), "created_utc": 1}
    )
    lines.append(
        {"id": "x2", "title": "MRW repost", "url": server.url("/m/1.gif"), "created_utc": 2}
    )
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n{truncated line\n")
    return bodies


def collected(out: Path) -> list[tuple[str, str, str, bytes]]:
    return [
        (i.post.id, i.sha256, i.media_url, i.media_path.read_bytes()) for i in iter_collected(out)
    ]


@pytest.mark.slow
def test_loopback_urls_are_blocked_by_default_and_fetched_with_allow_private(tmp_path, capsys):
    with MediaServer() as server:
        dump = tmp_path / "posts.ndjson"
        bodies = write_dump(dump, server, 6)
        out = tmp_path / "out"
        # every download failed: the summary says which option lifts the block, exit 2
        assert main(["collect", "--dump", str(dump), "--out", str(out), "--no-progress"]) == 2
        printed = capsys.readouterr()
        assert "blocked: loopback address (allow with --allow-private)" in printed.out
        assert printed.err.count("\n") == 1 and "error: no media collected: all 6 downloads" in (
            printed.err
        )
        assert "--allow-private" in printed.err
        assert sum(server.hits.values()) == 0  # nothing was requested
        report = json.loads((out / "report.json").read_text())
        assert report["counts"]["downloads"] == {"blocked: loopback address": 6}
        assert report["sources"]["dumps"]["skipped"] == {"malformed record": 1}
        assert collected(out) == []
        # the same folder, now allowed: the blocked downloads are retried and all land
        assert (
            main(
                [
                    "collect",
                    "--dump",
                    str(dump),
                    "--out",
                    str(out),
                    "--no-progress",
                    "--allow-private",
                ]
            )
            == 0
        )
        assert "ok" in capsys.readouterr().out
    assert [(pid, body) for pid, _sha, _url, body in collected(out)] == [
        (f"p{i:03d}", b) for i, b in enumerate(bodies)
    ]
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["downloads"] == {"ok": 6}
    assert report["counts"]["posts"] == {
        "accepted": 6,
        "rejected: duplicate": 1,
        "rejected: not a reaction title": 1,
    }
    assert report["this_run"]["posts_new"] == 0  # the second run re-read the dump, added nothing


def _collect_args(dump: Path, out: Path) -> list[str]:
    return [
        "collect",
        "--dump",
        str(dump),
        "--out",
        str(out),
        "--allow-private",
        "--workers",
        "3",
        "--per-host",
        "3",
        "--no-progress",
        "--no-ytdlp",
    ]


def _ok_downloads(out: Path) -> set[str]:
    try:
        with sqlite3.connect(out / STATE_FILE, timeout=5) as conn:
            return {
                row[0] for row in conn.execute("SELECT post_id FROM downloads WHERE status = 'ok'")
            }
    except sqlite3.Error:
        return set()  # not created yet


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_result(tmp_path):
    with MediaServer(latency_s=0.1) as server:
        dump = tmp_path / "posts.ndjson"
        write_dump(dump, server, 40, flaky_every=7)
        reference = tmp_path / "reference"
        assert main(_collect_args(dump, reference)) == 0
        hits_before = server.hits.copy()
        for path, _route in list(server.routes.items()):  # re-arm the one-shot 503s
            if int(path[1].split("/")[-1].split(".")[0]) % 7 == 0:
                server.routes[path].before.append(Route(status=503))

        out = tmp_path / "interrupted"
        proc = subprocess.Popen(
            [sys.executable, "-m", "mrw.cli", *_collect_args(dump, out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while len(_ok_downloads(out)) < 12 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        done_before_kill = _ok_downloads(out)
        assert 12 <= len(done_before_kill) < 40, "the kill must land mid-run"
        assert main(_collect_args(dump, out)) == 0  # resume
        hits = server.hits - hits_before

    assert collected(out) == collected(reference)  # same rows, same bytes
    assert len(collected(out)) == 40
    for post_id in done_before_kill:  # finished work was not redone
        path = f"/m/{int(post_id[1:])}.gif"
        assert hits[path] == (2 if int(post_id[1:]) % 7 == 0 else 1)
    with sqlite3.connect(out / STATE_FILE) as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM posts").fetchone() == (42, 42)
        assert conn.execute("SELECT COUNT(*) FROM downloads").fetchone() == (40,)
    assert not list((out / "media" / ".tmp").iterdir())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["collect", "--out", "OUT"], "nothing to collect from"),
        (["collect", "--dump", "missing.ndjson", "--out", "OUT"], "dump file not found"),
        (
            ["collect", "--dump", "DUMP", "--out", "OUT", "--host-map", "nonsense"],
            "--host-map expects",
        ),
        (["collect", "--dump", "DUMP", "--out", "OUT", "--workers", "0"], "must be between 1"),
        (["collect", "--dump", "BADZST", "--out", "OUT"], "cannot read dump"),
    ],
)
def test_bad_input_is_one_line_error(tmp_path, capsys, argv, message):
    (tmp_path / "d.ndjson").write_text("")
    (tmp_path / "bad.zst").write_bytes(b"\x28\xb5\x2f\xfd" + b"not really zstd" * 4)
    paths = {
        "OUT": tmp_path / "out",
        "DUMP": tmp_path / "d.ndjson",
        "BADZST": tmp_path / "bad.zst",
        "missing.ndjson": tmp_path / "missing.ndjson",
    }
    argv = [str(paths.get(arg, arg)) for arg in argv] + ["--no-progress"]
    try:
        code = main(argv)
    except SystemExit as exc:  # checks done while parsing exit directly
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
