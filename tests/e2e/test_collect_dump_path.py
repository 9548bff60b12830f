"""`mrw collect --dump` names what is wrong with a dump path that is not a file (issue 28,
item 15): a missing one is "not found", a device or a folder is "not a regular file"."""

from __future__ import annotations

from pathlib import Path

import pytest

from mrw.cli import main


@pytest.mark.parametrize(
    ("dump", "message"),
    [
        ("missing.ndjson", "dump file not found: {path}"),
        ("/dev/null", "dump {path} is not a regular file (a folder, device or pipe)"),
        (".", "dump {path} is not a regular file (a folder, device or pipe)"),
    ],
)
def test_a_dump_that_is_not_a_file_is_named_for_what_it_is(
    dump: str, message: str, tmp_path: Path, capsys
) -> None:
    path = Path(dump) if dump.startswith("/") else tmp_path / dump
    code = main(["collect", "--dump", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == f"error: {message.format(path=path)}", err
    assert not (tmp_path / "out").exists()
