"""Hostile inputs found by testing: each gives a one-line error and exit 2, never a traceback."""

from __future__ import annotations

import sys

import pytest

from mrw.cliutil import run_main


def test_a_full_stdout_is_a_one_line_error(monkeypatch, capsys):
    with open("/dev/full", "w") as full:
        monkeypatch.setattr(sys, "stdout", full)
        assert run_main(lambda: print("x" * 100_000)) == 2
    assert capsys.readouterr().err == "error: cannot write output: No space left on device\n"


def test_other_os_errors_are_not_taken_for_stdout(capsys):
    def body() -> None:
        open("/nonexistent/file")  # noqa: SIM115

    with pytest.raises(FileNotFoundError):
        run_main(body)
