"""`mrw collect`'s summary line: the download rate counts files stored, so a run in which no
download succeeded shows 0 files/s, not its failed attempts per second."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mrw.cli import main
from mrw.testing.media import make_gif
from mrw.testing.media_server import MediaServer


@pytest.mark.slow
def test_no_file_stored_means_zero_files_per_second(tmp_path: Path, capsys) -> None:
    with MediaServer() as server:
        lines = []
        for i in range(4):
            server.add(f"/m/{i}.gif", make_gif(i), content_type="image/gif")
            lines.append(
                {"id": f"p{i}", "title": f"MRW case {i}", "url": server.url(f"/m/{i}.gif"),
                 "subreddit": "reactiongifs", "created_utc": 1_400_000_000 + i, "score": 10}
            )  # fmt: skip
        dump = tmp_path / "posts.ndjson"
        dump.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
        out = tmp_path / "out"
        main(["collect", "--dump", str(dump), "--out", str(out), "--no-progress", "--no-ytdlp"])
    report = json.loads((out / "report.json").read_text())
    assert report["this_run"]["downloads"] == 4 and report["this_run"]["downloaded_ok"] == 0
    summary = capsys.readouterr().out
    assert "0/4 downloads ok" in summary
    assert re.search(r"\b0\.00 files/s", summary), summary
