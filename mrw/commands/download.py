"""`mrw download NAME|REPO_ID`: an original release or a Hub dataset, with its media."""

from __future__ import annotations

import argparse
from pathlib import Path

from mrw.core.cliargs import MAX_WORKERS, integer


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw download` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "download",
        help="download MRW/TGIF from their original publishers, or a dataset from the HF Hub",
        description=(
            "`mrw download mrw` / `mrw download tgif` fetch the files the authors published "
            "(PVSE's mrw-v1.0.tar.gz; TGIF-Release's tgif-v1.0.tsv and split lists) with "
            "resumable, checksummed transfers, import them, and re-hydrate the media from "
            "their URLs (dead links are counted, not fatal). `mrw download ORG/NAME` snapshots "
            "a Hub dataset into the HF cache and re-hydrates it when it is URL-only. The result "
            "is where `mrw.load_dataset(NAME)` finds it unless --out is given."
        ),
    )
    parser.add_argument("name", help="mrw, tgif, or a Hub dataset id ORG/NAME")
    parser.add_argument("--out", type=Path, help="dataset folder to write")
    parser.add_argument(
        "--urls-only", action="store_true", help="stop at the URL-only dataset (no media download)"
    )
    parser.add_argument(
        "--mirror",
        metavar="URL",
        help="base URL serving the original release files (instead of the publisher)",
    )
    parser.add_argument(
        "--sha256",
        metavar="HEX",
        help="SHA-256 of the release archive you trust (needed for mrw: none is published)",
    )
    parser.add_argument("--revision", help="Hub revision (branch, tag or commit)")
    parser.add_argument(
        "--workers",
        type=integer(1, MAX_WORKERS),
        default=16,
        help="concurrent media downloads",
    )
    parser.add_argument(
        "--allow-private",
        action="store_true",
        help="let media URLs reach private/loopback addresses (local mirrors)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw download` with parsed `args`; return the process exit code."""
    from mrw.sources import SourceError
    from mrw.sources.hub import download_hub
    from mrw.sources.originals import ORIGINAL_RELEASES, download_original

    options = {
        "media": not args.urls_only,
        "workers": args.workers,
        "allow_private": args.allow_private,
    }
    if args.name in ORIGINAL_RELEASES:
        out = download_original(
            args.name, args.out, mirror=args.mirror, sha256=args.sha256, **options
        )
    elif "/" in args.name:
        if args.mirror or args.sha256:
            raise SourceError(
                "--mirror and --sha256 apply to the original releases (mrw, tgif), not Hub ids"
            )
        out = download_hub(args.name, args.out, revision=args.revision, **options)
    else:
        raise SourceError(
            f"unknown dataset {args.name!r}: use {', '.join(ORIGINAL_RELEASES)} or ORG/NAME"
        )
    print(f"ready: {out}")
    return 0
