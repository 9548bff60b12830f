"""`clean()` imports the decoder (PyTorch, PyAV) once, on the calling thread, before its
worker threads start: not inside each of them at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mrw.testing.reposts import gif_bytes, scene

PROBE = """
import hashlib, sys, threading
from pathlib import Path

importers = {}

class Recorder:
    def find_spec(self, name, path=None, target=None):
        if name in ("torch", "av") and name not in importers:
            importers[name] = threading.current_thread().name
        return None

sys.meta_path.insert(0, Recorder())
from mrw.curate.clean import CleanConfig, clean
from mrw.collect.records import CollectedItem, Post

assert "torch" not in sys.modules and "av" not in sys.modules, "imported too early"
items = []
for i, path in enumerate(sorted(Path(sys.argv[1]).glob("*.gif"))):
    post = Post(id=f"p{i}", title=f"MRW my friend wins number {i}", subreddit="r",
                permalink=f"/r/r/comments/p{i}/x/", url=f"https://i.example.com/p{i}",
                created_utc=1_600_000_000 + i)
    data = path.read_bytes()
    items.append(CollectedItem(post=post, media_url=post.url, media_path=path,
                               sha256=hashlib.sha256(data).hexdigest(),
                               content_type="image/gif", size=len(data)))
result = clean(items, CleanConfig(workers=4), progress=False)
assert result.decoded == len(items)
print(importers["torch"], importers["av"])
"""


def test_decoder_is_imported_once_on_the_calling_thread(tmp_path: Path) -> None:
    for i in range(4):
        (tmp_path / f"{i}.gif").write_bytes(gif_bytes(scene(i)))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["MainThread", "MainThread"]
