"""`mrw collect --reddit` when listings cannot be read (issue 13.3), run as the console script:
no listing read is a one-line error and exit 2 (with report.json kept); some listings read is
exit 0 with the failures counted in report.json."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mrw.testing.reddit import FakeReddit

BIN = Path(sys.executable).parent


def _collect(tmp_path: Path, site: dict[str, str], *listings: str) -> subprocess.CompletedProcess:
    config_home = tmp_path / "config"
    config_home.mkdir(exist_ok=True)
    lines = ["[site]"] + [f"{key}={value}" for key, value in site.items()]
    (config_home / "praw.ini").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
    for name in ("praw_client_id", "praw_client_secret", "praw_user_agent"):
        env.pop(name, None)
    argv = [str(BIN / "mrw"), "collect", "--reddit", "--praw-site", "site"]
    for listing in listings:
        argv += ["--listing", listing]
    argv += ["--out", str(tmp_path / "out"), "--no-progress", "--no-ytdlp", "--no-download"]
    return subprocess.run(
        argv, check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )


@pytest.mark.slow  # prawcore retries the refused connection a few times (~10 s) before we skip
def test_no_listing_readable_is_a_one_line_error_and_keeps_the_report(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    site = {"client_id": "id", "client_secret": "fake-secret", "user_agent": "mrw-tests/0.1",
            "oauth_url": dead, "reddit_url": dead}  # fmt: skip
    done = _collect(tmp_path, site, "new", "top:all", "hot")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("error: no source could be read: all 3 Reddit listings failed")
    assert "Connection refused" in lines[0] and "fake-secret" not in done.stderr
    reddit = json.loads((tmp_path / "out" / "report.json").read_text())["sources"]["reddit"]
    assert (reddit["listings_read"], reddit["listings_failed"]) == (0, 3)
    # After the first refused connection the other listings are not tried again.
    assert sum("not tried" in s for s in reddit["skipped_listings"]) == 2


@pytest.mark.slow  # an interpreter
def test_partial_failure_exits_0_and_counts_the_failures(tmp_path: Path) -> None:
    with FakeReddit() as fake:
        fake.add_post(id="r1", title="MRW it works", url="https://i.imgur.com/Works1.gif")
        fake.listen("reactiongifs", "new")  # `top` is not served: HTTP 404 from the fake
        done = _collect(tmp_path, fake.praw_settings(), "new", "top:all")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    reddit = json.loads((tmp_path / "out" / "report.json").read_text())["sources"]["reddit"]
    assert (reddit["listings_read"], reddit["listings_failed"]) == (1, 1)
    assert reddit["skipped_listings"][0].startswith("reddit:r/reactiongifs/top:all: ")
    assert reddit["posts"] > 0
