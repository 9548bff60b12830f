"""Shared command-line plumbing: one-line errors with exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from mrw.cliargs import Parser
from mrw.errors import MRWError
from mrw.untrusted import one_line

EXIT_USAGE = 2


class UsageError(MRWError):
    """A bad option value found by a command's own checks."""


def fail(message: str) -> NoReturn:
    """Stop a command with a one-line `error: MESSAGE` and exit code 2 (via `run_main`)."""
    raise UsageError(message)


def run_main(fn: Callable[[], int | None]) -> int:
    """Run a CLI body; user errors become `error: ...` on stderr and exit 2.

    Set MRW_DEBUG=1 to see the full traceback of an `MRWError`.
    """
    try:
        return int(fn() or 0)
    except MRWError as exc:
        if os.environ.get("MRW_DEBUG"):
            raise
        message = one_line(str(exc)) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser(prog: str, description: str, commands: dict[str, str]) -> argparse.ArgumentParser:
    """A parser whose sub-commands live in their own modules.

    `commands` maps a sub-command name to a module that defines
    `register(subparsers) -> argparse.ArgumentParser` and sets `func` on its parser via
    `set_defaults(func=...)`; the function receives the parsed namespace and returns an exit
    code. Modules keep heavy imports inside their functions so `--help` stays fast.
    """
    parser = Parser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in commands.items():
        module = importlib.import_module(module_name)
        module.register(sub)
        if name not in sub.choices:
            raise RuntimeError(f"{module_name}.register did not add the {name!r} command")
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen sub-command under `run_main`.

    Returns the exit code: a usage error (one line, see `mrw.cliargs.Parser`) returns 2 and
    `--help` 0, so `main(argv)` returns in-process rather than exiting.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return run_main(lambda: args.func(args))
