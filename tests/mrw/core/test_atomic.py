"""Atomic writes: all or nothing, with ordinary file modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mrw.core.atomic import atomic_dir, atomic_write


def test_failed_write_leaves_previous_content(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as handle:
        handle.write("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_written_file_gets_umask_mode_not_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "f.json", "w") as handle:
            handle.write("{}")
        with atomic_dir(tmp_path / "d") as folder:
            (folder / "x").write_text("1")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
    assert (tmp_path / "d" / "x").read_text() == "1"
