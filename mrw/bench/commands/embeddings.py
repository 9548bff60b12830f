"""`mrw-bench embeddings RUN --out FILE.parquet`: a run's embeddings, one row per (item, head)
(`mrw.bench.embeddings`)."""

from __future__ import annotations

import argparse

from mrw.core.cliargs import nonempty


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "embeddings",
        help="write a run's video and sentence embeddings as one Parquet file",
        description="Rebuild a finished run's model from its checkpoint and cached features, "
        "encode its evaluation split, and write FILE: one row per (item, head) with columns "
        "kind, id, head and embedding (fixed_size_list<float32>[D]), and the run, method and "
        "protocol card hash in the schema metadata (docs/harness.md). MRW's test split with "
        "PVSE K=5, D=1024 is about 200 MB before compression.",
    )
    parser.add_argument("run", type=nonempty, metavar="RUN", help="a run folder of `mrw-bench run`")
    parser.add_argument(
        "--out",
        type=nonempty,
        required=True,
        metavar="FILE",
        help="the Parquet file to write (.parquet); an existing file is replaced only if it is "
        "an earlier export of this command",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mrw.bench.embeddings import (
        describe_size,
        encode_run,
        is_embeddings_file,
        write_embeddings,
    )
    from mrw.core.atomic import check_output_file

    out = check_output_file(args.out, is_embeddings_file)
    embeddings = encode_run(Path(args.run), lambda line: print(line, flush=True))
    print(describe_size(embeddings), flush=True)
    size = write_embeddings(embeddings, out)
    print(f"wrote {out} ({size / 1e6:.2f} MB)")
    return 0
