"""`mrw clean COLLECTION_DIR`: filter and de-duplicate collected pairs, each drop with a reason."""

from __future__ import annotations

import argparse
from pathlib import Path

from mrw.core.cliargs import MAX_WORKERS, integer


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw clean` sub-command to `subparsers`; return its parser."""
    from mrw.curate.clean import CleanConfig
    from mrw.curate.videohash import HASH_FRAMES

    defaults = CleanConfig()
    parser = subparsers.add_parser(
        "clean",
        help="normalise titles, filter and de-duplicate collected pairs (exact and near-duplicate)",
        description=(
            "Read a collection folder (`mrw collect --out DIR`) and write kept.jsonl, "
            "dropped.jsonl (every dropped post with its reason) and report.json. Titles are "
            "unescaped, NFC-normalised and whitespace-collapsed; the reaction prefix (MRW, MFW, "
            "...) is kept as in the original release unless --strip-prefix. Media must decode "
            "and fall within the frame/duration bounds; byte-identical media (SHA-256) and "
            "perceptual near-duplicates (pHash and colour hash of frames at fixed relative "
            "times, both within their limits) keep only "
            "the earliest post."
        ),
    )
    parser.add_argument("collection", type=Path, help="collection folder written by `mrw collect`")
    parser.add_argument("--out", type=Path, help="output folder (default: COLLECTION/clean)")
    parser.add_argument("--strip-prefix", action="store_true", help="remove the MRW/MFW/... prefix")
    parser.add_argument(
        "--min-words",
        type=int,
        default=defaults.min_words,
        help="minimum words after the prefix (default %(default)s)",
    )
    parser.add_argument(
        "--max-words",
        type=int,
        default=defaults.max_words,
        help="maximum words after the prefix (default %(default)s)",
    )
    parser.add_argument("--any-language", action="store_true", help="skip the English-only filter")
    parser.add_argument(
        "--min-frames",
        type=int,
        default=defaults.min_frames,
        help="drop clips with fewer frames (default %(default)s)",
    )
    parser.add_argument(
        "--min-duration",
        type=float,
        default=defaults.min_duration_s,
        metavar="S",
        help="drop clips shorter than S seconds (default %(default)s)",
    )
    parser.add_argument(
        "--max-duration",
        type=float,
        default=defaults.max_duration_s,
        metavar="S",
        help="drop clips longer than S seconds (default %(default)s)",
    )
    parser.add_argument(
        "--near-dup-bits",
        type=int,
        default=defaults.near_duplicate_bits,
        help=f"pHash Hamming distance (of {HASH_FRAMES * 64} bits) up to which two videos are "
        "near-duplicates (default %(default)s)",
    )
    parser.add_argument(
        "--near-dup-colour-bits",
        type=int,
        default=defaults.near_duplicate_colour_bits,
        help=f"colour-hash distance (of {HASH_FRAMES * 42} bits) they must also be within "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--keep-near-duplicates",
        action="store_true",
        help="keep reposts instead of dropping them; `mrw build` keeps each group in one split",
    )
    parser.add_argument(
        "--workers",
        type=integer(1, MAX_WORKERS),
        default=defaults.workers,
        help="decode/hash threads",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw clean` with parsed `args`; return the process exit code."""
    from mrw.collect.state import iter_collected
    from mrw.core.atomic import check_output_path
    from mrw.curate.clean import CleanConfig, clean, format_report, write_result

    config = CleanConfig(
        strip_prefix=args.strip_prefix,
        min_words=args.min_words,
        max_words=args.max_words,
        english_only=not args.any_language,
        min_frames=args.min_frames,
        min_duration_s=args.min_duration,
        max_duration_s=args.max_duration,
        near_duplicate_bits=args.near_dup_bits,
        near_duplicate_colour_bits=args.near_dup_colour_bits,
        drop_near_duplicates=not args.keep_near_duplicates,
        workers=args.workers,
    )
    out = check_output_path(args.out or args.collection / "clean", folder=True)
    result = clean(iter_collected(args.collection), config)
    write_result(result, out)
    print(format_report(result.report()))
    print(f"wrote {out}")
    return 0
