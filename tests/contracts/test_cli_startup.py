"""`--version`, `--help`, argument errors and a missing dataset answer without importing torch or
the methods (which take seconds to import, a minute on a loaded machine): each command loads
them only when it needs them. Checked on `sys.modules` in a fresh interpreter, not timed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "torchvision", "pvse", "baselines", "datasets", "praw", "yt_dlp", "starlette")

_PROBE = """
import contextlib, io, json, sys
module, argv = sys.argv[1], json.loads(sys.argv[2])
main = __import__(module, fromlist=["main"]).main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
    code = main(argv)
print(json.dumps({"code": code, "stderr": err.getvalue(),
                  "loaded": sorted(m for m in json.loads(sys.argv[3]) if m in sys.modules)}))
"""


def _probe(module: str, argv: list[str], cache: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, module, json.dumps(argv), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"MRW_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    ("module", "argv", "code"),
    [
        ("mrw.bench.cli", ["--version"], 0),
        ("mrw.bench.cli", ["--help"], 0),
        ("mrw.bench.cli", ["run", "--help"], 0),
        ("mrw.bench.cli", ["run"], 2),  # METHOD missing
        ("mrw.bench.cli", ["run", "pvse", "--epochs", "x"], 2),
        ("mrw.bench.cli", ["run", "pvse", "--dataset", "mrw"], 2),  # not prepared
        ("mrw.cli", ["--version"], 0),
        ("mrw.cli", ["--help"], 0),
        ("leaderboard.cli", ["--version"], 0),
    ],
)
def test_answers_without_loading_torch_or_methods(
    module: str, argv: list[str], code: int, tmp_path: Path
) -> None:
    out = _probe(module, argv, tmp_path)
    assert out["code"] == code, out["stderr"]
    assert out["loaded"] == [], f"{module} {' '.join(argv)} imported {out['loaded']}"
    if code == 2:
        assert out["stderr"].count("\n") == 1 and "Traceback" not in out["stderr"]
