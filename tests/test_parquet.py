"""Tests for scoring.io.parquet: columns by name from the schema, checked row batches with row numbers, the writer."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from contract.metadata import Metadata
from model.wdbc import ALIASES, FEATURE_NAMES, load_bundled
from scoring.errors import InputError
from scoring.io.layout import Columns
from scoring.io.parquet import ParquetWriter, check_rows, file_format, open_parquet, parquet_layout, row_batches
from tests.expect import error_line

NAMES = list(FEATURE_NAMES)
INFO = Metadata(feature_names=NAMES, threshold=0.5, feature_aliases=ALIASES)


def parquet_batches(parquet, layout, batch_rows: int) -> list:
    """Every batch of the file, checked, as the block pipeline's workers see them."""
    return [check_rows(batch, layout) for batch in row_batches(parquet, layout, batch_rows)]


def write(frame: pl.DataFrame, path: Path, row_group_size: int | None = None) -> Path:
    frame.write_parquet(path, row_group_size=row_group_size)
    return path


def test_format_follows_the_name_unless_told() -> None:
    assert [file_format(p) for p in ("a.parquet", "B.PQ", "c.csv", "d.csv.gz", "-")] == \
        ["parquet", "parquet", "csv", "csv", "csv"]
    assert file_format("data.bin", "parquet") == "parquet" and file_format("x.parquet", "csv") == "csv"


def test_columns_match_by_name_and_kept_columns_keep_their_types(tmp_path: Path) -> None:
    frame = load_bundled().rename({"radius_mean": "Radius Mean"}).select(["diagnosis", *reversed(
        [n if n != "radius_mean" else "Radius Mean" for n in NAMES]), "id"])
    path = write(frame, tmp_path / "t.parquet")
    layout = parquet_layout(open_parquet(path), str(path), INFO, Columns(keep=["id", "diagnosis"]))
    assert [layout.names[i] for i in layout.feature_index][:2] == ["Radius Mean", "texture_mean"]
    assert layout.keep_names == ["id", "diagnosis"] and layout.keep_dtypes == [pl.Int64, pl.String]
    batches = list(parquet_batches(open_parquet(path), layout, batch_rows=100))
    assert [b.rows for b in batches] == [100] * 5 + [69]
    x = np.concatenate([b.features for b in batches])
    want = load_bundled().select(NAMES).to_numpy().astype(np.float32)
    np.testing.assert_array_equal(x, want)
    assert batches[0].kept["id"].to_list()[:3] == [1, 2, 3] and batches[0].features.flags.c_contiguous


@pytest.mark.parametrize(("value", "reason"), [
    (None, r"expected a number, got no value \(null\)"),
    (float("nan"), r"expected a finite number, got NaN"),
    (float("inf"), r"expected a finite number, got inf"),
])
def test_bad_values_are_rejected_with_their_row_and_column(tmp_path: Path, value, reason: str) -> None:
    frame = load_bundled().head(300)
    area = frame["area_mean"].to_list()
    area[250] = value
    path = write(frame.with_columns(pl.Series("area_mean", area, dtype=pl.Float64)), tmp_path / "t.parquet",
                 row_group_size=100)
    layout = parquet_layout(open_parquet(path), str(path), INFO, Columns())
    batches = list(parquet_batches(open_parquet(path), layout, batch_rows=64))
    rejects = [r for b in batches for r in b.rejects]
    assert sum(b.rows for b in batches) == 299 and len(rejects) == 1
    with pytest.raises(InputError, match=rf"t.parquet, row 251, column 6 \('area_mean'\): {reason}\."):
        raise rejects[0].error(str(path))
    assert '"id": 251' in rejects[0].record


def test_text_columns_are_parsed_and_their_bad_values_quoted(tmp_path: Path) -> None:
    frame = load_bundled().head(10).with_columns(pl.col("texture_mean").cast(pl.String))
    texture = frame["texture_mean"].to_list()
    texture[3] = "n/a"
    path = write(frame.with_columns(pl.Series("texture_mean", texture)), tmp_path / "t.parquet")
    layout = parquet_layout(open_parquet(path), str(path), INFO, Columns())
    (batch,) = parquet_batches(open_parquet(path), layout, batch_rows=1000)
    assert batch.rows == 9 and batch.rejects[0].line == 4
    assert batch.rejects[0].reason == "expected a number, got 'n/a'"


def test_a_column_of_another_type_is_refused_by_name(tmp_path: Path) -> None:
    frame = load_bundled().head(5).with_columns(pl.lit([1, 2]).alias("radius_mean"))
    path = write(frame, tmp_path / "t.parquet")
    with pytest.raises(InputError, match=r"t.parquet, column 3 \('radius_mean'\): has type (large_)?list<element: int64>; "
                                         r"expected numbers\. Convert the column"):
        parquet_layout(open_parquet(path), str(path), INFO, Columns())


def test_not_a_parquet_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_text("id,radius_mean\n")
    with pytest.raises(InputError, match=r"t.parquet: is not a readable Parquet file: "):
        open_parquet(path)
    with pytest.raises(InputError, match=r"nope.parquet: file not found"):
        open_parquet(tmp_path / "nope.parquet")


def test_writer_appends_row_groups_with_a_fixed_schema() -> None:
    handle = io.BytesIO()
    writer = ParquetWriter(handle, {"id": pl.Int64, "probability": pl.Float32, "label": pl.Int64})
    writer.write(pl.DataFrame({"id": [1, 2], "probability": np.array([0.25, 0.75], np.float32), "label": [0, 1]}))
    writer.write(pl.DataFrame({"id": [3], "probability": np.array([0.5], np.float32), "label": [0]}))
    writer.close()
    handle.seek(0)
    table = pq.read_table(handle)
    assert table.num_rows == 3 and pq.ParquetFile(io.BytesIO(handle.getvalue())).num_row_groups == 2
    assert str(table.schema.field("probability").type) == "float"
    empty = io.BytesIO()
    ParquetWriter(empty, {"probability": pl.Float32, "label": pl.Int64}).close()
    assert pq.read_table(io.BytesIO(empty.getvalue())).num_rows == 0


# --- Parquet through the scorer (scoring.batch): both runtimes, both engines, either end ------------------------

from scoring.batch import main as batch_main  # noqa: E402
from scoring.batch import score_csv  # noqa: E402
from scoring.errors import ScoringError  # noqa: E402


@pytest.fixture(scope="module")
def wdbc_parquet(wdbc_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same 569 rows as the CSV fixture, in row groups of 100 (so a run crosses row groups)."""
    return write(pl.read_csv(wdbc_csv), tmp_path_factory.mktemp("pq") / "wdbc.parquet", row_group_size=100)


def test_parquet_in_and_out_score_exactly_as_the_csv(runtime, wdbc_csv: Path, wdbc_parquet: Path,
                                                     tmp_path: Path) -> None:
    score_csv(wdbc_csv, tmp_path / "ref.csv", runtime=runtime)
    score_csv(wdbc_parquet, tmp_path / "pq.csv", runtime=runtime)
    score_csv(wdbc_parquet, tmp_path / "pq.parquet", runtime=runtime)
    assert score_csv(wdbc_csv, tmp_path / "csv.parquet", runtime=runtime).stages["engine"] == "polars-streaming"
    assert (tmp_path / "pq.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()
    reference = pl.read_csv(tmp_path / "ref.csv", schema_overrides={"probability": pl.Float32})
    from_parquet, from_csv = pl.read_parquet(tmp_path / "pq.parquet"), pl.read_parquet(tmp_path / "csv.parquet")
    assert from_parquet.schema == {"id": pl.Int64, "probability": pl.Float32, "label": pl.Int64}
    assert from_csv.schema == {"id": pl.String, "probability": pl.Float32, "label": pl.Int64}  # CSV text stays text
    assert from_parquet.equals(reference)
    assert from_csv.with_columns(pl.col("id").cast(pl.Int64)).equals(reference)
    assert 0 < reference["label"].sum() < reference.height


@pytest.mark.slow
@pytest.mark.parametrize("engine,batch_rows", [("auto", 65_536), ("blocks", 65_536), ("blocks", 37), ("auto", 1)])
def test_engines_and_batch_sizes_write_the_same_table(runtime, wdbc_parquet: Path, tmp_path: Path, engine: str,
                                                      batch_rows: int) -> None:
    score_csv(wdbc_parquet, tmp_path / "ref.parquet", runtime=runtime, engine="blocks", batch_rows=569)
    summary = score_csv(wdbc_parquet, tmp_path / "out.parquet", runtime=runtime, engine=engine, batch_rows=batch_rows)
    assert summary.rows == 569 and summary.stages["engine"] == "blocks"  # Parquet input: always row groups
    assert pl.read_parquet(tmp_path / "out.parquet").equals(pl.read_parquet(tmp_path / "ref.parquet"))


def test_pass_through_columns_keep_their_parquet_types(runtime, tmp_path: Path) -> None:
    frame = load_bundled().head(50).with_columns(
        pl.col("id").cast(pl.Int32), pl.lit(None, dtype=pl.Date).alias("seen"),
        (pl.col("radius_mean") * 2).alias("double_radius"), pl.col("diagnosis").alias("note"))
    source = write(frame, tmp_path / "t.parquet")
    for engine in ("auto", "blocks"):
        out = tmp_path / f"{engine}.parquet"
        score_csv(source, out, runtime=runtime, keep=["id", "seen", "double_radius", "note"], engine=engine,
                  label_values=True)
        scored = pl.read_parquet(out)
        assert scored.schema == {"id": pl.Int32, "seen": pl.Date, "double_radius": pl.Float64, "note": pl.String,
                                 "probability": pl.Float32, "label": pl.Int64, "predicted_diagnosis": pl.String}
        assert scored["double_radius"].to_list() == frame["double_radius"].to_list()
        assert scored["note"].to_list() == frame["diagnosis"].to_list()


@pytest.mark.parametrize("bad,row,reason", [
    (None, 301, "got no value (null)"), (float("nan"), 12, "got NaN"), (float("inf"), 569, "got inf"),
])
def test_a_bad_value_stops_with_its_row_and_writes_nothing(runtime, wdbc_parquet: Path, tmp_path: Path, bad,
                                                           row: int, reason: str) -> None:
    frame = pl.read_parquet(wdbc_parquet)
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == row - 1).then(bad).otherwise(pl.col("area_largest"))
                               .alias("area_largest"))
    source = write(frame, tmp_path / "bad.parquet", row_group_size=100)
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous good output")
    with pytest.raises(InputError) as caught:
        score_csv(source, out, runtime=runtime)
    assert str(caught.value).startswith(f"{source}, row {row}, column 26 ('area_largest'): expected a ")
    assert reason in str(caught.value)
    assert out.read_bytes() == b"previous good output"


def test_skip_writes_the_other_rows_and_rejects_by_row_number(runtime, wdbc_parquet: Path, tmp_path: Path) -> None:
    frame = pl.read_parquet(wdbc_parquet).with_columns(pl.col("texture_mean").cast(pl.String))
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()).is_in([4, 250])).then(pl.lit("n/a"))
                               .otherwise(pl.col("texture_mean")).alias("texture_mean"))
    source = write(frame, tmp_path / "text.parquet", row_group_size=100)
    summary = score_csv(source, tmp_path / "out.parquet", runtime=runtime, on_error="skip")
    assert (summary.rows, summary.rejected) == (567, 2)
    rejects = pl.read_csv(tmp_path / "out.parquet.rejects.csv")
    assert rejects.columns == ["row", "column", "reason", "record"]
    assert rejects["row"].to_list() == [5, 251]
    assert rejects["reason"].to_list() == ["expected a number, got a missing value ('n/a')"] * 2
    ids = pl.read_parquet(tmp_path / "out.parquet")["id"].to_list()
    assert ids == [i for k, i in enumerate(frame["id"].to_list()) if k not in (4, 250)]


def test_an_input_with_no_rows_gives_an_empty_table_with_the_schema(runtime, tmp_path: Path) -> None:
    source = write(load_bundled().head(0), tmp_path / "empty.parquet")
    for engine in ("auto", "blocks"):
        summary = score_csv(source, tmp_path / f"{engine}.parquet", runtime=runtime, engine=engine)
        scored = pl.read_parquet(tmp_path / f"{engine}.parquet")
        assert summary.rows == 0 and scored.height == 0
        assert scored.schema == {"id": pl.Int64, "probability": pl.Float32, "label": pl.Int64}


@pytest.mark.parametrize("kwargs,message", [
    ({"source": "-", "input_format": "parquet"}, "Parquet input must be a file: its footer is read first, so it "
                                                 "cannot come from stdin. Save it to a file, or send CSV on stdin."),
    ({"header": False}, "--no-header is for CSV input; {source} is read as Parquet (columns by name from its schema)."),
    ({"sep": ";"}, "--sep is for CSV input; {source} is read as Parquet (columns by name from its schema)."),
    ({"output": "out.parquet.gz", "output_format": "parquet"}, "Parquet output {output} would be compressed twice; "
     "Parquet compresses inside the file (snappy/zstd), so drop the .gz/.bz2 suffix."),
    ({"output": "OUT.PARQUET.BZ2", "output_format": "parquet"}, "Parquet output {output} would be compressed twice"),
    ({"input_format": "feather"}, "--input-format must be one of ['auto', 'csv', 'parquet'], got 'feather'."),
    ({"output_format": "xlsx"}, "--output-format must be one of ['auto', 'csv', 'parquet'], got 'xlsx'."),
])
def test_what_parquet_cannot_do_is_refused_before_anything_runs(wdbc_parquet: Path, tmp_path: Path, kwargs: dict,
                                                                message: str) -> None:
    arguments = {"source": wdbc_parquet, "output": "out.parquet", **kwargs}
    arguments["output"] = tmp_path / arguments["output"]
    message = message.format(source=arguments["source"], output=arguments["output"])
    with pytest.raises(ScoringError, match=re.escape(message)):
        score_csv(arguments.pop("source"), arguments.pop("output"), runtime="no such runtime", **arguments)
    assert list(tmp_path.iterdir()) == []


def test_cli_formats_by_flag_for_names_without_a_suffix(export_dir: Path, wdbc_parquet: Path, tmp_path: Path,
                                                        capsys) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(wdbc_parquet.read_bytes())
    code = batch_main([str(source), str(tmp_path / "scored.bin"), "--model", str(export_dir),
                       "--input-format", "parquet", "--output-format", "parquet"])
    assert code == 0 and "scored 569 rows" in capsys.readouterr().err
    assert pl.read_parquet(tmp_path / "scored.bin").height == 569
    assert batch_main([str(source), str(tmp_path / "x.csv"), "--model", str(export_dir)]) == 2  # read as CSV
    assert "InputError" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()


def test_cli_says_in_one_line_that_a_csv_is_not_parquet(export_dir: Path, wdbc_csv: Path, tmp_path: Path, capsys) -> None:
    code = batch_main([str(wdbc_csv), str(tmp_path / "o.csv"), "--model", str(export_dir), "--input-format", "parquet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"InputError: {wdbc_csv}") and "is not a readable Parquet file" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("batch_rows", [65_536, 7])
def test_a_damaged_row_group_is_named_with_its_rows(runtime, wdbc_parquet: Path, tmp_path: Path,
                                                    batch_rows: int) -> None:
    data = bytearray(wdbc_parquet.read_bytes())
    start = pq.ParquetFile(wdbc_parquet).metadata.row_group(4).column(5).data_page_offset
    data[start:start + 200] = b"\x55" * 200  # the fifth row group's sixth column chunk, overwritten
    source = tmp_path / "damaged.parquet"
    source.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"damaged.parquet, row 401: row group 5 of 6 \(rows 401 to 500\) cannot "
                                         r"be read: .* The file is damaged; write it again from its source\."):
        score_csv(source, tmp_path / "out.parquet", runtime=runtime, batch_rows=batch_rows, on_error="skip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.parquet"]


@pytest.mark.parametrize("engine", ["auto", "blocks"])
def test_a_full_disk_under_a_parquet_output_is_one_line_and_keeps_the_previous_file(
        runtime_name: str, export_dir: Path, tmp_path: Path, small_filesystem: Path, capfd, engine: str) -> None:
    from benchmarks.datagen import write_csv

    source = tmp_path / "big.parquet"
    pl.read_csv(write_csv(tmp_path / "big.csv", 20_000), infer_schema_length=0).with_columns(
        pl.col("id").cast(pl.Int64), pl.exclude("id").cast(pl.Float64)).write_parquet(source)  # ~300 KB scored
    out = small_filesystem / "out.parquet"
    out.write_text("previous\n")
    capfd.readouterr()
    argv = [str(source), str(out), "--runtime", runtime_name, "--model", str(export_dir), "--keep-all"]
    code = batch_main(argv + (["--on-error", "skip", "--rejects", str(tmp_path / "r.csv")] if engine == "blocks" else []))
    lines = capfd.readouterr().err.splitlines()
    assert code == 2
    error_line("\n".join(lines), "OutputError", str(out), "No space left on device", "out.parquet is unchanged")
    assert out.read_text() == "previous\n"
    assert [p.name for p in small_filesystem.iterdir()] == ["out.parquet"]


def test_schema_problems_name_the_file_not_a_line(tmp_path: Path) -> None:
    path = write(load_bundled().drop("texture_mean").rename({"radius_mean": "R"}), tmp_path / "t.parquet")
    with pytest.raises(InputError) as caught:
        parquet_layout(open_parquet(path), str(path), INFO, Columns(rename={"R": "radius_mean"}))
    assert str(caught.value).startswith(f"{path}: missing 1 feature columns the model needs: 'texture_mean'.")
    with pytest.raises(InputError) as caught:
        parquet_layout(open_parquet(path), str(path), INFO, Columns(rename={"Q": "radius_mean"}))
    assert str(caught.value).startswith(f"{path}: --rename names 'Q', which the schema does not have.")


def test_rename_reads_the_files_names_on_both_engines(runtime, tmp_path: Path) -> None:
    frame = load_bundled().rename({"radius_mean": "R1", "id": "key"})
    source = write(frame, tmp_path / "own.parquet", row_group_size=200)
    reference = tmp_path / "reference.parquet"
    score_csv(write(load_bundled(), tmp_path / "plain.parquet"), reference, runtime=runtime, keep=["id"])
    for engine in ("auto", "blocks"):
        out = tmp_path / f"{engine}.parquet"
        summary = score_csv(source, out, runtime=runtime, engine=engine, rename={"R1": "radius_mean", "key": "id"})
        assert summary.stages["engine"] == "blocks"
        assert pl.read_parquet(out).equals(pl.read_parquet(reference))


@pytest.mark.slow
def test_memory_does_not_grow_with_the_parquet_file(export_dir: Path, tmp_path: Path) -> None:
    """Peak RSS of a fresh process scoring 300,000 and 1,200,000 rows (row groups of 65,536): about the same.
    (polars' scan_parquet, which this path replaced, grew from 784 to 1,178 MiB between 2M and 6M rows.)"""
    from benchmarks.common import run_measured
    from benchmarks.datagen import write_csv

    rows = pl.scan_csv(write_csv(tmp_path / "gen.csv", 300_000))
    peaks = {}
    for name, copies in (("small", 1), ("large", 4)):
        src = tmp_path / f"{name}.parquet"
        pl.concat([rows] * copies).sink_parquet(src, row_group_size=65_536)
        code = (f"from scoring.batch import score_csv; s = score_csv({str(src)!r}, {str(tmp_path / 'out.parquet')!r}, "
                f"model={str(export_dir)!r}, runtime='onnx'); assert s.rows == {300_000 * copies}")
        peaks[name] = run_measured([sys.executable, "-c", code])["peak_rss_mib"]
    assert peaks["large"] < peaks["small"] * 1.15, peaks


def test_nested_pass_through_columns_go_to_parquet_and_are_refused_for_csv_in_one_line(export_dir, tmp_path,
                                                                                     capsys) -> None:
    """The issue's case: a list or struct column passed through into a CSV was polars' ComputeError traceback."""
    from scoring.batch import main

    frame = load_bundled().with_columns(pl.concat_list([pl.col("id"), pl.col("id")]).alias("tags"),
                                        pl.struct(pl.col("id").alias("a")).alias("meta"))
    src = write(frame, tmp_path / "nested.parquet")
    assert main([str(src), str(tmp_path / "out.csv"), "--model", str(export_dir), "--keep-all"]) == 2
    assert capsys.readouterr().err == (
        f"InputError: {src}: column 'tags' holds nested values (List(Int64)), which a CSV output cannot hold (2 such "
        "columns: 'tags', 'meta'); leave them out of --keep/--keep-all, or write Parquet (--output-format parquet)\n")
    assert main([str(src), str(tmp_path / "out.csv"), "--model", str(export_dir), "--keep", "id,meta"]) == 2
    assert "column 'meta' holds nested values (Struct({'a': Int64}))" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
    assert main([str(src), str(tmp_path / "out.parquet"), "--model", str(export_dir), "--keep-all", "--quiet"]) == 0
    assert pl.read_parquet(tmp_path / "out.parquet")["tags"].to_list()[:2] == [[1, 1], [2, 2]]


def _with_a_changed_value(src: Path, target: Path, column: str) -> Path:
    """``src`` with the first value of ``column`` changed by its last bit, in place in its data page (an uncompressed,
    plain-encoded page: the change is silent unless the page has a checksum that is checked)."""
    import struct

    table = pq.read_table(src)
    meta = pq.ParquetFile(src).metadata.row_group(0).column(table.column_names.index(column))
    data = bytearray(src.read_bytes())
    at = data.find(struct.pack("<d", table.column(column)[0].as_py()), meta.data_page_offset)
    assert at > 0
    data[at] ^= 1
    target.write_bytes(bytes(data))
    return target


def test_a_data_page_overwritten_on_disk_is_caught_by_its_checksum(export_dir, tmp_path, capsys) -> None:
    """The issue's case: a Parquet file whose data pages were overwritten scored with exit 0."""
    from scoring.batch import main

    table = load_bundled().to_arrow()
    good = tmp_path / "good.parquet"
    pq.write_table(table, good, write_page_checksum=True, compression="none", use_dictionary=False)
    bad = _with_a_changed_value(good, tmp_path / "bad.parquet", "radius_mean")
    assert pq.read_table(bad).column("radius_mean")[0].as_py() != table.column("radius_mean")[0].as_py()  # silently
    assert main([str(bad), str(tmp_path / "out.csv"), "--model", str(export_dir)]) == 2
    assert capsys.readouterr().err == (
        f"InputError: {bad}, row 1: row group 1 of 1 (rows 1 to 569) cannot be read: could not verify page integrity, "
        "CRC checksum verification failed for page_ordinal 0 The file is damaged; write it again from its source.\n")
    assert not (tmp_path / "out.csv").exists()


def test_the_parquet_we_write_carries_page_checksums(export_dir, tmp_path) -> None:
    """What the block pipeline writes (here from a Parquet input) has a CRC per data page: a byte changed in a page's
    data fails the check (without one, the page would decompress to other values, or fail otherwise)."""
    from scoring.batch import score_csv

    src = write(load_bundled(), tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    score_csv(src, out, model=export_dir, keep_all=True)
    table = pq.read_table(out)
    meta = pq.ParquetFile(out).metadata.row_group(0).column(table.column_names.index("probability"))
    data = bytearray(out.read_bytes())
    start = min(o for o in (meta.dictionary_page_offset, meta.data_page_offset) if o is not None)
    data[start + meta.total_compressed_size - 1] ^= 0xFF  # the last byte of the last page's data
    changed = tmp_path / "changed.parquet"
    changed.write_bytes(bytes(data))
    with pytest.raises(OSError, match="CRC checksum verification failed"):
        pq.ParquetFile(changed, page_checksum_verification=True).read()
