"""The no-model ceiling as a program of its own: polars parses every feature to float32 and writes three columns.

``python benchmarks/ceiling.py IN OUT`` imports polars and nothing of this project, so whole-process timings
(hyperfine, ``benchmarks.cores``) compare the scorer with the fastest program that reads and writes the same.
"""

from __future__ import annotations

import sys

import polars as pl


def run(source: str, output: str) -> None:
    """Every column but ``id`` parsed as float32, their sum computed (so every value is parsed), written as
    id, probability, label: the scorer's columns, with no model."""
    with open(source, "rb") as handle:
        features = [name for name in handle.readline().decode().rstrip("\r\n").split(",") if name != "id"]
    lazy = pl.scan_csv(source, schema_overrides={f: pl.Float32 for f in features})
    lazy.select(pl.col("id"), pl.sum_horizontal(features).alias("probability"),
                pl.lit(0, dtype=pl.Int64).alias("label")).sink_csv(output)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python benchmarks/ceiling.py IN OUT", file=sys.stderr)
        return 2
    run(*args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
