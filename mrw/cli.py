"""`mrw`: build, inspect, import, download and publish the MRW dataset (and TGIF, and the toy
set)."""

from __future__ import annotations

from collections.abc import Sequence

from mrw.core.cliutil import build_parser, dispatch

# sub-command -> module defining `register(subparsers)`; each module owns its command.
COMMANDS: dict[str, str] = {
    "collect": "mrw.commands.collect",
    "clean": "mrw.commands.clean",
    "build": "mrw.commands.build",
    "import": "mrw.commands.import_release",
    "download": "mrw.commands.download",
    "publish": "mrw.commands.publish",
    "toy": "mrw.commands.toy",
    "stats": "mrw.commands.stats",
    "qrels": "mrw.commands.qrels",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(
        "mrw",
        "Build, inspect, import, download and publish video-sentence retrieval datasets.",
        COMMANDS,
    )
    return dispatch(parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
