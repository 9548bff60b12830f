"""`mrw-bench list`: the registered methods (with their papers and defaults) and the
catalogued datasets (with their training defaults)."""

from __future__ import annotations

import argparse
import dataclasses

from mrw.core.cliutil import stdout_console


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "list",
        help="list the registered methods and the catalogued datasets",
        description="List the methods the harness can run (registered by the packages that "
        "declare `mrw.methods` entry points), with their papers, learning rates and default "
        "options, and the datasets of the catalogue with their training defaults.",
    )
    parser.add_argument(
        "pattern", nargs="?", default="*", help="shell-style name filter (default: all)"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from mrw.catalog import get_dataset, list_datasets
    from mrw.methods.registry import get_method_class, list_methods

    methods = Table(title="Methods", title_justify="left")
    for column in ("name", "paper", "lr", "default options"):
        methods.add_column(column, overflow="fold")
    for name in list_methods(args.pattern):
        cls = get_method_class(name)
        options = ", ".join(
            f"{field.name}={getattr(cls.config_class(), field.name)!r}"
            for field in dataclasses.fields(cls.config_class)
        )
        lr = "zero-shot (not trained)" if cls.zero_shot else f"{cls.default_lr:g}"
        methods.add_row(name, cls.paper, lr, options)
    datasets = Table(title="Datasets", title_justify="left")
    columns = ("name", "version", "modality", "features", "frames", "epochs", "protocols")
    for column in (*columns, "description"):
        datasets.add_column(column, overflow="fold")
    for name in list_datasets(args.pattern):
        record = get_dataset(name)
        train = record.training
        datasets.add_row(
            name,
            record.version,
            record.modality,
            f"{train.backbone} ({train.weights}) {train.image_size}px",
            f"{train.num_frames} @ {train.fps:g} fps",
            str(train.epochs),
            ", ".join(record.protocols.names),
            record.description,
        )
    console = stdout_console()
    console.width = max(console.width, 120)
    console.print(methods)
    console.print(datasets)
    return 0
