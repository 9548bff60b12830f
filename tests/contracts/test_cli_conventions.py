"""What every console script does (issue 13.4 and 13.9): `--version`, help text on every option,
and a quiet exit when the reader of a pipe goes away (`... | head`)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from leaderboard.qrels import write_qrels
from leaderboard.runfile import write_run
from mrw.core.cliutil import EXIT_BROKEN_PIPE, toolkit_version
from mrw.testing.run_records import write_metrics_json

BIN = Path(sys.executable).parent
SCRIPTS = ("mrw", "mrw-bench", "mrw-leaderboard")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}


def _parsers() -> dict[str, argparse.ArgumentParser]:
    from leaderboard.cli import COMMANDS as BOARD
    from mrw.bench.cli import COMMANDS as BENCH
    from mrw.cli import COMMANDS as MRW
    from mrw.core.cliutil import build_parser

    return {
        name: build_parser(name, "", commands)
        for name, commands in (("mrw", MRW), ("mrw-bench", BENCH), ("mrw-leaderboard", BOARD))
    }


def _subparsers(parser: argparse.ArgumentParser, path: str):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, f"{path} {name}")


@pytest.mark.parametrize("script", SCRIPTS)
def test_version(script: str) -> None:
    done = subprocess.run(
        [BIN / script, "--version"],
        check=False,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.strip() == f"{script} {toolkit_version()}"


def test_every_option_has_help_text() -> None:
    missing = [
        f"{path} {action.option_strings[-1]}"
        for script, parser in _parsers().items()
        for path, sub in _subparsers(parser, script)
        for action in sub._actions
        if action.option_strings and not action.help and action.help != argparse.SUPPRESS
    ]
    assert missing == []


def _closed_pipe(argv: list[str], read_lines: int) -> tuple[int, str]:
    """Run a console script whose stdout reader stops after `read_lines` lines (as `head`)."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, bufsize=0
    )
    for _ in range(read_lines):
        proc.stdout.readline()
    proc.stdout.close()  # `head` exits: every later write to the pipe fails with EPIPE
    stderr = proc.stderr.read().decode()
    return proc.wait(timeout=300), stderr


@pytest.fixture(scope="module")
def pipe_inputs(tmp_path_factory) -> dict[str, list[str]]:
    from mrw.dataset import VideoRow, build_dataset

    root = tmp_path_factory.mktemp("pipes")
    rows = [
        VideoRow(id=f"p{i}", video_id=f"v{i}", sentence=f"word {i} " * 3, media_url="https://x/")
        for i in range(40)
    ]
    dataset = build_dataset({"test": rows}, root / "ds", configs=("urls",))

    n = 400  # a run file far larger than a pipe's buffer
    ids_s, ids_v = [f"s{i}" for i in range(n)], [f"v{i}" for i in range(n)]
    truth = root / "truth"
    write_qrels(truth / "t2v.qrels", list(zip(ids_s, ids_v, strict=True)))
    write_qrels(truth / "v2t.qrels", list(zip(ids_v, ids_s, strict=True)))
    scores = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    write_run(root / "t2v.run", ids_s, ids_v, scores, "m")
    write_run(root / "v2t.run", ids_v, ids_s, scores.T, "m")

    runs = root / "runs"
    direction = {"R@1": 1.0, "R@5": 5.0, "R@10": 10.0, "MedR": 50, "MeanR": 50.0, "nMR": 0.5,
                 "queries": 100, "missing_queries": 0}  # fmt: skip
    for i in range(30):  # many rows: a long table
        run_dir = runs / f"m{i}"
        run_dir.mkdir(parents=True)
        config = {"method": f"m{i}", "options": {"seed": 0}}
        (run_dir / "config.json").write_text(json.dumps(config))
        metrics = {"t2v": direction, "v2t": direction, "rsum": 32.0}
        write_metrics_json(run_dir, config, metrics)
    stats = [str(BIN / "mrw"), "stats", str(dataset)]
    score = [str(BIN / "mrw-leaderboard"), "score", "--truth", str(truth)]
    score += [str(root / "t2v.run"), str(root / "v2t.run")]
    return {
        "stats": [*stats, "--json"],
        "score": [*score, "--json"],
        "compare": [str(BIN / "mrw-bench"), "compare", str(runs)],
        # rich tables: rich's own closed-pipe handler would exit 1
        "stats table": stats,
        "score table": score,
        "list": [str(BIN / "mrw-bench"), "list"],
    }


@pytest.mark.slow  # six interpreters
@pytest.mark.parametrize(
    "command", ["stats", "score", "compare", "stats table", "score table", "list"]
)
def test_closed_pipe_exits_quietly(pipe_inputs: dict[str, list[str]], command: str) -> None:
    code, stderr = _closed_pipe(pipe_inputs[command], read_lines=0)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert stderr == "" and code == EXIT_BROKEN_PIPE
    # As in a shell pipeline `... | head -1`: whatever the timing, never a traceback.
    code, stderr = _closed_pipe(pipe_inputs[command], read_lines=1)
    assert stderr == "" and code in (0, EXIT_BROKEN_PIPE)
