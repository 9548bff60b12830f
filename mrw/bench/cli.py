"""`mrw-bench`: extract features, run methods, compare, sweep and reproduce the paper's results."""

from __future__ import annotations

from collections.abc import Sequence

from mrw.core.cliutil import build_parser, dispatch

# sub-command -> module defining `register(subparsers)`.
COMMANDS: dict[str, str] = {
    "list": "mrw.bench.commands.list",
    "features": "mrw.bench.commands.features",
    "run": "mrw.bench.commands.run",
    "compare": "mrw.bench.commands.compare",
    "sweep": "mrw.bench.commands.sweep",
    "reproduce": "mrw.bench.commands.reproduce",
    "heads": "mrw.bench.commands.heads",
    "explore": "mrw.bench.commands.explore",
    "embeddings": "mrw.bench.commands.embeddings",
    "headroom": "mrw.bench.commands.headroom",
    "tune": "mrw.bench.commands.tune",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(
        "mrw-bench",
        "Run PVSE and the baselines under identical splits, features and scoring.",
        COMMANDS,
    )
    return dispatch(parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
