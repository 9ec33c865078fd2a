"""``brainlm-decode decode-batch``: many maps into one parquet table."""

from __future__ import annotations

import argparse
from typing import Any


def add_batch_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``decode-batch`` sub-command to the ``brainlm-decode`` parser."""
    batch = sub.add_parser(
        "decode-batch",
        help="decode many maps (files, folders, globs) into one parquet table",
    )
    batch.add_argument("inputs", nargs="+", help="NIfTI files, folders or globs")
    batch.add_argument("--out", required=True, help="parquet file of the results")
    batch.add_argument("--model", default=None, help="pretrained name or folder")
    batch.add_argument(
        "--level", choices=("task", "concept", "domain", "all"), default="all"
    )
    batch.add_argument("--top", type=int, default=None, help="terms kept per level")
    batch.add_argument(
        "--tail", choices=("positive", "negative", "both", "abs"), default=None
    )
    batch.add_argument("--n-jobs", type=int, default=1)
    batch.add_argument("--backend", default="loky", help="joblib backend")
    batch.add_argument("--chunk-size", type=int, default=32)
    batch.add_argument("-v", "--verbose", action="count", default=0)
    batch.set_defaults(run=run_batch)
    return batch


def run_batch(args: argparse.Namespace) -> int:
    """Run ``decode-batch``; prints a one-line summary."""
    from brainlm_decode.decode.decoder import CLIPDecoder

    decoder = CLIPDecoder.from_pretrained(args.model)
    if args.tail:
        decoder.set_params(tail=args.tail)
    levels = ("task", "concept", "domain") if args.level == "all" else (args.level,)
    table = decoder.decode_many(
        args.inputs,
        args.out,
        levels=levels,
        top=args.top,
        n_jobs=args.n_jobs,
        backend=args.backend,
        chunk_size=args.chunk_size,
        verbose=args.verbose,
    )
    errors = table.loc[table["level"] == "error", "sha256"].nunique()
    print(
        f"{table['sha256'].nunique()} maps in {args.out} ({errors} with errors, "
        f"{len(table)} rows)"
    )
    return 0
