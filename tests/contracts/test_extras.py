"""A command that needs an optional extra which is not installed says which one, in one line
with exit 2 (`mrw.core.cliutil.require_extra`); the others do not care."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mrw.cli import main


@pytest.mark.parametrize("module", ["praw", "yt_dlp", "zstandard"])
def test_collect_without_its_extra_names_it(module: str, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    dump = tmp_path / "posts.ndjson"
    dump.write_text("")
    code = main(["collect", "--dump", str(dump), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "pip install 'mrw-toolkit[collect]'" in err and module.replace("_", "-") in err
    assert not (tmp_path / "out").exists()


def test_commands_that_need_no_extra_do_not_ask_for_it(tmp_path: Path, monkeypatch, capsys):
    for module in ("praw", "yt_dlp", "zstandard", "starlette", "uvicorn"):
        monkeypatch.setitem(sys.modules, module, None)
    assert main(["--version"]) == 0
    assert main(["toy", "--out", str(tmp_path / "toy"), "--num-pairs", "6"]) == 0
    assert "pip install" not in capsys.readouterr().err
