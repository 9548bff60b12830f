"""Argument parsing for every console script: one-line errors and bounded numbers.

`Parser` is the `argparse.ArgumentParser` of `mrw`, `mrw-bench` and `mrw-leaderboard` (and,
through `parser_class`, of all their sub-commands):

- a usage error is one line, `error: PROG: MESSAGE`, exit code 2 (no usage dump);
- `type=int` accepts a whole number in [0, `MAX_INT`] and `type=float` a finite number in
  [0, `MAX_FLOAT`]: no command of this project takes a negative, NaN, infinite or absurdly
  large number unless an option says so with its own type (`integer`, `number`).

Options with tighter bounds (at least 1, at most a few thousand workers, ...) use
`integer(...)` and `number(...)`; options whose empty value would read as "not given" (a
file, a folder, a name) use `nonempty`.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn

EXIT_USAGE = 2
MAX_INT = 2**53  # exact in a float and in JSON
MAX_FLOAT = 1e12
MAX_WORKERS = 256  # threads or processes a command may be asked to start


def integer(minimum: int = 0, maximum: int = MAX_INT) -> Callable[[str], int]:
    """An argparse type: a whole number in [minimum, maximum], in ASCII digits (`int()` would
    also read other scripts' digits: `١` as 1)."""

    def parse(text: str) -> int:
        try:
            if not text.isascii():
                raise ValueError(text)
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"must be between {minimum:,} and {maximum:,}, got {text!r}"
            )
        return value

    parse.__name__ = "integer"
    return parse


def number(
    minimum: float = 0.0,
    maximum: float = MAX_FLOAT,
    *,
    above_minimum: bool = False,
    below_maximum: bool = False,
) -> Callable[[str], float]:
    """An argparse type: a finite number in [minimum, maximum]; `above_minimum` excludes the
    minimum, `below_maximum` the maximum (e.g. (0, 1) for a fraction that is neither none
    nor all). The error states exactly that range."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        low_ok = value > minimum if above_minimum else value >= minimum
        high_ok = value < maximum if below_maximum else value <= maximum
        if not math.isfinite(value) or not low_ok or not high_ok:
            low = f"> {minimum:g}" if above_minimum else f">= {minimum:g}"
            high = f"< {maximum:g}" if below_maximum else f"<= {maximum:g}"
            raise argparse.ArgumentTypeError(
                f"must be a finite number {low} and {high}, got {text!r}"
            )
        return value

    parse.__name__ = "number"
    return parse


def nonempty(text: str) -> str:
    """An argparse type: any string but an empty or blank one (`--json ''` is a mistake, not
    a request for no output)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a value, got {text!r}")
    return text


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` with one-line usage errors and bounded `int`/`float` types."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.register("type", int, integer())
        self.register("type", float, number())

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {' '.join(message.split())}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
