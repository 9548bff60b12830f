"""`mrw-bench explore RUN [--against RUN2] --out DIR`: a static page of a run's retrievals
(`mrw.bench.explore`)."""

from __future__ import annotations

import argparse

from mrw.core.cliargs import integer


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explore",
        help="write a static HTML page of a run's retrievals, heads and attention",
        description="Write DIR/index.html, a self-contained page (opens from disk, offline) of "
        "a finished run: each query's retrieved items as thumbnails or sentences with the "
        "ground truth and its rank, the winning heads and their attention, head-usage and "
        "rank plots, the best and worst queries, and with --against the queries fixed and "
        "broken between the two runs.",
    )
    parser.add_argument("run", metavar="RUN", help="a run folder of `mrw-bench run`")
    parser.add_argument(
        "--against", metavar="RUN2", help="another run of the same dataset and split to diff"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for index.html")
    parser.add_argument(
        "--max-queries",
        type=integer(1, 5000),
        default=200,
        metavar="N",
        help="query cards per direction (default %(default)s; bounds the page's size)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mrw.bench.explore import Caps, write_page
    from mrw.core.atomic import check_output_path
    from mrw.core.cliutil import fail

    out = check_output_path(args.out, folder=True) if args.out else fail("--out needs a folder")
    earlier = {"index.html", "usage.png", "ranks.png"}
    if out.is_dir() and not {p.name for p in out.iterdir()} <= earlier:
        fail(
            f"--out {out} holds files that are not an earlier explorer page; choose another folder"
        )
    path = write_page(args.run, args.out, args.against, Caps(queries=args.max_queries))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0
