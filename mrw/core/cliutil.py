"""Shared command-line plumbing: one-line errors with exit code 2 (never a traceback for bad
input), `--version`, `--threads`, and a quiet exit when stdout's pipe closes."""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from mrw.core.cliargs import EXIT_USAGE, MAX_WORKERS, Parser, integer
from mrw.core.errors import MRWError
from mrw.core.untrusted import one_line
from mrw.core.version import __version__

EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE, as a shell reports `yes | head`


def toolkit_version() -> str:
    """The toolkit's version (`mrw.core.version`, which the package metadata is built from)."""
    return __version__


class UsageError(MRWError):
    """A bad option value found by a command's own checks."""


def fail(message: str) -> NoReturn:
    """Stop a command with a one-line `error: MESSAGE` and exit code 2 (via `run_main`)."""
    raise UsageError(message)


def require_extra(extra: str, modules: Mapping[str, str]) -> None:
    """Stop a command that needs an optional extra which is not installed: one line naming
    the missing packages and the `pip install 'mrw-toolkit[EXTRA]'` that adds them, exit 2.

    Args:
        extra: the extra's name in pyproject.toml (`collect`, `server`, ...).
        modules: import name -> distribution name of what the command imports from it.

    Raises:
        UsageError: some of `modules` cannot be found (nothing is imported to find out).
    """
    missing = [dist for name, dist in modules.items() if importlib.util.find_spec(name) is None]
    if missing:
        fail(f"this command needs {', '.join(missing)}: pip install 'mrw-toolkit[{extra}]'")


def _quiet_broken_pipe() -> int:
    """The reader of stdout went away (`... | head`): stop quietly, as Unix tools do.

    stdout is pointed at /dev/null so that the interpreter's final flush does not raise
    again; the exit status is 128 + SIGPIPE, what a shell reports for a tool killed by it.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced by something without a file descriptor
        pass
    finally:
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def stdout_console(**options: Any) -> Any:
    """A `rich.console.Console` on stdout whose closed pipe ends the command as `print` does.

    rich's own handler exits with status 1; this console raises `BrokenPipeError` instead,
    which `run_main` turns into the quiet exit 141 (`mrw stats DIR | head -1`).

    Args:
        options: keyword arguments of `rich.console.Console` (e.g. `width`).

    Returns:
        The console.
    """
    from rich.console import Console

    class _PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "stdout closed")

    return _PipeConsole(**options)


_OUTPUT_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def _output_failed(exc: OSError) -> int:
    """Writing failed (stdout on a full disk, `> /dev/full`): one line, exit 2.

    stdout is pointed at /dev/null when it cannot be flushed, so that the interpreter's final
    flush does not raise again.
    """
    print(f"error: cannot write output: {exc.strerror or exc}", file=sys.stderr)
    try:
        sys.stdout.flush()
    except OSError:
        _quiet_broken_pipe()
    except ValueError:  # stdout closed
        pass
    return EXIT_USAGE


def run_main(fn: Callable[[], int | None]) -> int:
    """Run a CLI body; user errors become `error: ...` on stderr and exit 2.

    A closed stdout pipe (`mrw stats --json | head -1`) ends the command quietly with exit
    status 141; any other failure to write stdout (a full disk) is a one-line error, exit 2.
    Set MRW_DEBUG=1 to see the full traceback of an `MRWError`.
    """
    try:
        code = int(fn() or 0)
        sys.stdout.flush()  # a pipe closed early fails here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except OSError as exc:
        if exc.filename is not None or exc.errno not in _OUTPUT_FULL:
            raise
        return _output_failed(exc)
    except MRWError as exc:
        if os.environ.get("MRW_DEBUG"):
            raise
        message = one_line(str(exc)) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


THREADS_ENV = "MRW_THREADS"
# Read by the OpenMP, MKL and OpenBLAS runtimes when they load (torch and numpy use them).
_LIBRARY_THREAD_ENVS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def cpu_threads() -> int:
    """CPU threads that training, evaluation and scoring may use.

    `--threads N` of any console script, or the environment variable `MRW_THREADS`, else
    every CPU this process may run on (PyTorch's own default).

    Raises:
        UsageError: `MRW_THREADS` is not a whole number in [1, `MAX_WORKERS`].
    """
    text = os.environ.get(THREADS_ENV, "").strip()
    if text:
        try:
            return integer(1, MAX_WORKERS)(text)
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"{THREADS_ENV}: {exc}") from None
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_cpu_threads(threads: int) -> None:
    """Use `threads` CPU threads from now on, in this process and the processes it starts.

    Sets `MRW_THREADS` (read by `cpu_threads`), the thread variables of the OpenMP, MKL and
    OpenBLAS runtimes for libraries not loaded yet, and `torch.set_num_threads` when PyTorch
    is already loaded.
    """
    for name in (THREADS_ENV, *_LIBRARY_THREAD_ENVS):
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


class _Version(argparse.Action):
    """`--version`: print `PROG VERSION` and exit; the version is looked up only then."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings, dest, default=argparse.SUPPRESS, nargs=0, help="show the version"
        )

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> NoReturn:
        print(f"{parser.prog} {toolkit_version()}")
        parser.exit()


def build_parser(prog: str, description: str, commands: dict[str, str]) -> argparse.ArgumentParser:
    """A parser whose sub-commands live in their own modules.

    `commands` maps a sub-command name to a module that defines
    `register(subparsers) -> argparse.ArgumentParser` and sets `func` on its parser via
    `set_defaults(func=...)`; the function receives the parsed namespace and returns an exit
    code. Modules keep heavy imports inside their functions so `--help` stays fast. Every
    parser gets `--version` and `--threads` (see `cpu_threads`).
    """
    parser = Parser(prog=prog, description=description)
    parser.add_argument("--version", action=_Version)
    parser.add_argument(
        "--threads",
        type=integer(1, MAX_WORKERS),
        help=f"CPU threads for training, evaluation and scoring (default: ${THREADS_ENV}, "
        "else every CPU)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in commands.items():
        module = importlib.import_module(module_name)
        module.register(sub)
        if name not in sub.choices:
            raise RuntimeError(f"{module_name}.register did not add the {name!r} command")
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen sub-command under `run_main`.

    Returns the exit code: a usage error (one line, see `mrw.core.cliargs.Parser`) returns 2 and
    `--help` 0, so `main(argv)` returns in-process rather than exiting.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE

    def body() -> int | None:
        if getattr(args, "threads", None) is not None:
            set_cpu_threads(args.threads)
        elif os.environ.get(THREADS_ENV, "").strip():
            set_cpu_threads(cpu_threads())  # checks the value: a bad one is a usage error
        return args.func(args)

    return run_main(body)
