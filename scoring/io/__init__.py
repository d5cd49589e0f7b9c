"""The scorer's I/O: input streams, blocks of records, parsing, column layout, Parquet, and atomic output."""
