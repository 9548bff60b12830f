"""The shared argparse types: bounded numbers, in the digits a user types."""

from __future__ import annotations

import argparse

import pytest

from mrw.core.cliargs import integer, nonempty, number


@pytest.mark.parametrize("text", ["١", "１", "٣٤", "1e3", "1.0", "", "nan"])
def test_integer_takes_ascii_digits_only(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected a whole number"):
        integer()(text)


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("+7", 7), (" 12 ", 12), ("65535", 65535)])
def test_integer_reads_whole_numbers_in_range(text: str, value: int) -> None:
    assert integer(0, 65535)(text) == value


def test_bounds_are_checked() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="between 0 and 65,535"):
        integer(0, 65535)("65536")
    with pytest.raises(argparse.ArgumentTypeError, match="finite"):
        number(0.1, 10.0)("inf")


def test_an_open_range_says_so_and_refuses_its_ends() -> None:
    fraction = number(0.0, 1.0, above_minimum=True, below_maximum=True)
    for end in ("0", "1"):
        with pytest.raises(argparse.ArgumentTypeError, match="> 0 and < 1, got"):
            fraction(end)
    assert fraction("0.999") == 0.999 and number(0.0, 1.0)("1") == 1.0


@pytest.mark.parametrize("text", ["", " ", "\t\n"])
def test_nonempty_refuses_an_empty_or_blank_value(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected a value"):
        nonempty(text)
    assert nonempty(" x ") == " x "  # a value is kept as given
