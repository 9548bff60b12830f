"""`mrw publish DIR --repo ORG/NAME`: upload a dataset folder to the Hugging Face Hub."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw publish` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "publish",
        help="upload a dataset folder to the Hugging Face Hub (--dry-run lists the files)",
        description=(
            "Create (if needed) the dataset repo ORG/NAME and upload the folder: dataset card, "
            "parquet shards of every config, qrels. The token comes from HF_TOKEN or the "
            "Hugging Face config (`hf auth login`), never from the command line. To share only "
            "URLs, build with --urls-only (or publish the folder of `mrw import`)."
        ),
    )
    parser.add_argument("dataset_dir", type=Path, help="dataset folder (from mrw build/import)")
    parser.add_argument("--repo", required=True, metavar="ORG/NAME", help="Hub dataset repo id")
    parser.add_argument("--dry-run", action="store_true", help="list what would be uploaded")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--message", default="Upload MRW-format dataset", help="commit message")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw publish` with parsed `args`; return the process exit code."""
    from mrw.sources.hub import publish

    files = publish(
        args.dataset_dir,
        args.repo,
        dry_run=args.dry_run,
        private=args.private,
        message=args.message,
    )
    verb = "would upload" if args.dry_run else "uploaded"
    for path, size in files:
        print(f"{size:>14,}  {path}")
    print(
        f"{verb} {len(files)} files ({sum(s for _, s in files):,} bytes) to "
        f"https://huggingface.co/datasets/{args.repo}"
    )
    return 0
