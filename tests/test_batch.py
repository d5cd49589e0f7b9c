"""Tests for scoring.batch: score_csv and ``python -m scoring.batch`` on both runtimes."""

from __future__ import annotations

import bz2
import fcntl
import gzip
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from tqdm import tqdm

from benchmarks.common import default_sigint
from model.wdbc import FEATURE_NAMES, UCI_COLUMNS, load_bundled
from scoring.batch import main, score_csv
from scoring.errors import InputError, ScoringError
from tests.conftest import die_with_parent, kill_group_or_process
from tests.expect import error_line, says


def run(args: list[str], capsys) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def read_out(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"probability": np.float32})


def expected(runtime, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return runtime.predict(np.ascontiguousarray(frame[list(FEATURE_NAMES)].to_numpy(np.float32)))


# --- results ------------------------------------------------------------------------------------


def test_wdbc_rows_score_as_the_runtime_does(runtime, wdbc_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    summary = score_csv(wdbc_csv, out, runtime=runtime)
    scored = read_out(out)
    assert list(scored.columns) == ["id", "probability", "label"]
    want = expected(runtime, pd.read_csv(wdbc_csv))
    # The written text round-trips float32 exactly.
    np.testing.assert_array_equal(scored["probability"].to_numpy(), want["probability"])
    np.testing.assert_array_equal(scored["label"].to_numpy(), want["label"])
    assert scored["id"].tolist() == list(range(1, 570))
    assert summary.rows == 569 and summary.positives == int(want["label"].sum()) and summary.rejected == 0


@pytest.mark.parametrize("engine", ["auto", "blocks"])
@pytest.mark.parametrize("batch_rows", [pytest.param(1, marks=pytest.mark.slow), 7, 4096, 10**9])
def test_chunk_invariance(runtime, wdbc_csv: Path, tmp_path: Path, batch_rows: int, engine: str) -> None:
    whole = tmp_path / "whole.csv"
    score_csv(wdbc_csv, whole, runtime=runtime, batch_rows=10**9, engine="blocks")
    out = tmp_path / f"b{batch_rows}.csv"
    summary = score_csv(wdbc_csv, out, runtime=runtime, batch_rows=batch_rows, engine=engine)
    assert summary.stages["engine"] == ("polars-streaming" if engine == "auto" else "blocks")
    assert out.read_bytes() == whole.read_bytes()


def test_streaming_engine_declines_bad_rows_and_blocks_report_them(runtime, wdbc_csv: Path, tmp_path: Path) -> None:
    src = tmp_path / "blank.csv"
    src.write_text(wdbc_csv.read_text().replace("\n", "\n\n", 3))  # blank lines: valid, but not for polars
    out = tmp_path / "out.csv"
    summary = score_csv(src, out, runtime=runtime)
    assert summary.stages["engine"] == "blocks" and summary.rows == 569
    reference = tmp_path / "ref.csv"
    score_csv(wdbc_csv, reference, runtime=runtime)
    assert out.read_bytes() == reference.read_bytes()
    src.write_text(wdbc_csv.read_text().replace(",17.99,", ",x,", 1))
    with pytest.raises(InputError, match=r"line 2, column 3 \('radius_mean'\): expected a number, got 'x'"):
        score_csv(src, out, runtime=runtime)


def test_columns_in_any_order_with_extras_and_keep(runtime, wdbc_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(wdbc_csv)
    shuffled = frame[["diagnosis", *reversed(FEATURE_NAMES), "id"]].assign(extra="x, y")
    src = tmp_path / "shuffled.csv"
    shuffled.to_csv(src, index=False)
    out = tmp_path / "out.csv"
    score_csv(src, out, runtime=runtime, keep=["diagnosis", "extra"])
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["diagnosis", "extra", "probability", "label"]
    assert (scored["extra"] == "x, y").all()
    np.testing.assert_array_equal(scored["probability"].to_numpy(np.float32), expected(runtime, frame)["probability"])
    score_csv(src, out, runtime=runtime, keep_all=True)
    assert list(pd.read_csv(out, nrows=1).columns) == [*shuffled.columns, "probability", "label"]


def test_headerless_uci_layout(runtime, tmp_path: Path) -> None:
    frame = load_bundled().to_pandas()
    src = tmp_path / "wdbc.data"
    frame[list(UCI_COLUMNS)].to_csv(src, header=False, index=False)
    out = tmp_path / "out.csv"
    score_csv(src, out, runtime=runtime, header=False)
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["column_1", "column_2", "probability", "label"]
    assert scored["column_2"].tolist() == frame["diagnosis"].tolist()
    np.testing.assert_array_equal(scored["label"].to_numpy(), expected(runtime, frame)["label"])


@pytest.mark.parametrize("engine", ["auto", "blocks"])
def test_threshold_override(runtime, wdbc_csv: Path, tmp_path: Path, engine: str) -> None:
    out = tmp_path / "out.csv"
    summary = score_csv(wdbc_csv, out, runtime=runtime, threshold=0.9, engine=engine)
    scored = read_out(out)
    labels = scored["label"].to_numpy()
    np.testing.assert_array_equal(labels, (scored["probability"] > np.float32(0.9)).astype(int))
    # The override must change labels here, or this test could not tell it from the model's threshold.
    assert (labels != expected(runtime, pd.read_csv(wdbc_csv))["label"]).sum() > 10
    assert summary.positives == labels.sum()


def test_threshold_on_every_path_gives_the_same_labels(runtime, wdbc_csv: Path, tmp_path: Path) -> None:
    """Plain file (streaming engine), gzip and stdin-like inputs (block pipeline) agree under --threshold."""
    packed = tmp_path / "in.csv.gz"
    packed.write_bytes(gzip.compress(wdbc_csv.read_bytes()))
    outs = []
    for i, src in enumerate([wdbc_csv, packed]):
        outs.append(tmp_path / f"out{i}.csv")
        score_csv(src, outs[-1], runtime=runtime, threshold=0.9)
    assert outs[0].read_bytes() == outs[1].read_bytes()


@pytest.mark.parametrize("engine", ["auto", "blocks"])
def test_label_is_strictly_greater_than_the_threshold(runtime, wdbc_csv: Path, tmp_path: Path, engine: str) -> None:
    frame = pd.read_csv(wdbc_csv)
    probability = expected(runtime, frame)["probability"]
    at = float(np.sort(probability)[300])  # a float32 value exactly, so one row sits on the threshold
    out = tmp_path / "out.csv"
    score_csv(wdbc_csv, out, runtime=runtime, threshold=at, engine=engine)
    scored = read_out(out)
    on = scored["probability"].to_numpy() == np.float32(at)
    assert on.sum() >= 1 and (scored["label"][on] == 0).all()
    assert (scored["label"][scored["probability"] > np.float32(at)] == 1).all()


@pytest.mark.parametrize("variant", ["gzip", "bz2", "crlf", "bom", "quoted"])
def test_inputs_people_actually_have(runtime, wdbc_csv: Path, tmp_path: Path, variant: str) -> None:
    reference = tmp_path / "reference.csv"
    score_csv(wdbc_csv, reference, runtime=runtime)
    data = wdbc_csv.read_bytes()
    name = {"gzip": "in.csv.gz", "bz2": "in.csv.bz2"}.get(variant, "in.csv")
    if variant == "gzip":
        data = gzip.compress(data)
    elif variant == "bz2":
        data = bz2.compress(data)
    elif variant == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif variant == "bom":
        data = b"\xef\xbb\xbf" + data
    elif variant == "quoted":
        lines = data.decode().splitlines()
        data = ("\n".join(",".join(f'"{f}"' for f in line.split(",")) for line in lines) + "\n").encode()
    src = tmp_path / name
    src.write_bytes(data)
    out = tmp_path / "out.csv"
    score_csv(src, out, runtime=runtime)
    assert out.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("name", ["header.csv", "header.csv.gz"])
def test_header_only_input_gives_header_only_output(runtime, tmp_path: Path, name: str) -> None:
    src = tmp_path / name
    text = (",".join(["id", *FEATURE_NAMES]) + "\n").encode()
    src.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    out = tmp_path / "out.csv"
    assert score_csv(src, out, runtime=runtime).rows == 0
    assert out.read_text() == "id,probability,label\n"


@pytest.mark.parametrize("output", ["file", "stdout"])
@pytest.mark.parametrize("engine", ["auto", "blocks"])
def test_no_id_column_and_no_keep(runtime, wdbc_csv: Path, tmp_path: Path, capfd, engine: str, output: str) -> None:
    """The most common input: features only. The output is probability and label alone."""
    frame = pd.read_csv(wdbc_csv)
    src = tmp_path / "features.csv"
    frame[list(FEATURE_NAMES)].to_csv(src, index=False)
    out = tmp_path / "out.csv" if output == "file" else "-"
    capfd.readouterr()
    summary = score_csv(src, out, runtime=runtime, engine=engine)
    text = out.read_text() if output == "file" else capfd.readouterr().out
    scored = pd.read_csv(io.StringIO(text), dtype={"probability": np.float32})
    assert list(scored.columns) == ["probability", "label"] and summary.rows == 569
    want = expected(runtime, frame)
    np.testing.assert_array_equal(scored["probability"].to_numpy(), want["probability"])
    np.testing.assert_array_equal(scored["label"].to_numpy(), want["label"])


TRICKY_VALUES = ['', '""', '"a ""quoted"" word"', '"comma, inside"', '"multi\nline"', '"crlf\r\ninside"',
                 'unicode é ✓ 日本', ' spaced ', '"  "', 'plain']


def _tricky_csv(path: Path, blank_line: bool = False) -> Path:
    """Pass-through values that CSV writers disagree on: empty, quoted empty, quotes, commas, newlines."""
    rng = np.random.default_rng(3)
    lines = ["id,note," + ",".join(FEATURE_NAMES)]
    for i in range(40):
        features = ",".join(f"{v:.4f}" for v in rng.uniform(0.5, 20, 30))
        lines.append(f"{i},{TRICKY_VALUES[i % len(TRICKY_VALUES)]},{features}")
        if blank_line and i == 3:
            lines.append("")  # valid, but only the exact parser takes it
    path.write_bytes(("\n".join(lines) + "\n").encode())
    return path


def test_engines_and_parsers_write_identical_bytes(runtime, tmp_path: Path) -> None:
    """Streaming engine, block pipeline with the polars parser, and the exact parser: the same bytes."""
    plain, blank = _tricky_csv(tmp_path / "tricky.csv"), _tricky_csv(tmp_path / "blank.csv", blank_line=True)
    outs = {}
    for src in (plain, blank):
        for engine in ("auto", "blocks"):
            out = tmp_path / f"{src.stem}-{engine}.out"
            summary = score_csv(src, out, runtime=runtime, engine=engine, keep_all=True)
            outs[(src.stem, engine, summary.stages["engine"])] = out.read_bytes()
    assert set(outs) == {("tricky", "auto", "polars-streaming"), ("tricky", "blocks", "blocks"),
                         ("blank", "auto", "blocks"), ("blank", "blocks", "blocks")}
    assert len(set(outs.values())) == 1
    scored = pl.read_csv(outs[("tricky", "auto", "polars-streaming")], infer_schema=False)
    assert scored["note"].to_list()[:10] == [None, None, 'a "quoted" word', "comma, inside", "multi\nline",
                                             "crlf\r\ninside", "unicode é ✓ 日本", " spaced ", "  ", "plain"]
    assert b"\n0,," in outs[("tricky", "auto", "polars-streaming")]  # an empty value is an empty field


def test_compressed_output(runtime, wdbc_csv: Path, tmp_path: Path) -> None:
    plain, packed = tmp_path / "out.csv", tmp_path / "out.csv.gz"
    score_csv(wdbc_csv, plain, runtime=runtime)
    score_csv(wdbc_csv, packed, runtime=runtime)
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()


# --- bad input: exit 2, one line naming the place, no output ------------------------------------


def _write_bad(wdbc_csv: Path, tmp_path: Path, case: str) -> Path:
    lines = wdbc_csv.read_text().splitlines()
    header = lines[0].split(",")
    src = tmp_path / "bad.csv"
    if case == "missing":
        header = [("radius_maen" if h == "radius_mean" else h) for h in header]
        lines[0] = ",".join(h for h in header if h != "area_largest")
        lines = [lines[0]] + [",".join(f for i, f in enumerate(l.split(",")) if header[i] != "area_largest")
                              for l in lines[1:]]
    elif case == "duplicate":
        lines[0] = lines[0].replace("diagnosis", "texture_mean")
    elif case == "empty":
        lines = []
    else:
        fields = lines[41].split(",")  # file line 42
        fields[header.index("smoothness_mean")] = {"text": "abc", "blank": "", "nan": "NaN", "inf": "inf"}.get(case, "1")
        if case == "ragged":
            fields = fields[:-1]
        lines[41] = ",".join(fields)
    src.write_text("\n".join(lines) + ("\n" if lines else ""))
    return src


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", r"bad.csv, line 1: missing 2 feature columns the model needs: 'radius_mean', 'area_largest'\. "
                    r"Did you mean 'radius_maen' for 'radius_mean'\?"),
        ("duplicate", r"bad.csv, line 1: duplicate column names: 'texture_mean' in columns 2, 4"),
        ("text", r"bad.csv, line 42, column 7 \('smoothness_mean'\): expected a number, got 'abc'"),
        ("blank", r"bad.csv, line 42, column 7 \('smoothness_mean'\): expected a number, got an empty value"),
        ("nan", r"bad.csv, line 42, column 7 \('smoothness_mean'\): expected a number, got a missing value \('NaN'\)"),
        ("inf", r"bad.csv, line 42, column 7 \('smoothness_mean'\): expected a finite number, got an infinite value"),
        ("ragged", r"bad.csv, line 42: expected 32 fields \(as in the header\), saw 31"),
        ("empty", r"bad.csv, line 1: the file is empty"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    runtime_name: str, export_dir: Path, wdbc_csv: Path, tmp_path: Path, capsys, case: str, message: str
) -> None:
    src = _write_bad(wdbc_csv, tmp_path, case)
    out = tmp_path / "out.csv"
    code, err = run([src, out, "--runtime", runtime_name, "--model", export_dir], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("InputError: "), err
    assert re.search(message, lines[0]), lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]  # no output, no temporary file


def test_bad_input_leaves_a_previous_output_untouched(runtime_name, export_dir, wdbc_csv, tmp_path, capsys) -> None:
    out = tmp_path / "out.csv"
    out.write_text("precious\n")
    src = _write_bad(wdbc_csv, tmp_path, "text")
    code, _ = run([src, out, "--runtime", runtime_name, "--model", export_dir, "--batch-rows", "7"], capsys)
    assert code == 2 and out.read_text() == "precious\n"


def test_the_cli_takes_every_option_with_its_choices(capsys) -> None:
    """What a user types is accepted (flags, their choices, the two positionals), and --keep excludes --keep-all."""
    from scoring.batch import build_parser

    choices = {s: a.choices for a in build_parser()._actions for s in a.option_strings}
    assert {"--model", "--threshold", "--batch-rows", "--keep", "--keep-all", "--no-header", "--sep", "--rename",
            "--rename-file", "--label-values", "--no-verify", "--threads", "--rejects", "--quiet", "--version",
            "--verbose"} <= set(choices)
    assert {flag: sorted(choices[flag]) for flag in ("--input-format", "--output-format", "--runtime", "--on-error")} == {
        "--input-format": ["auto", "csv", "parquet"], "--output-format": ["auto", "csv", "parquet"],
        "--runtime": ["onnx", "tf"], "--on-error": ["skip", "stop"]}
    args = build_parser().parse_args(["in.csv", "out.csv"])
    assert (args.input, args.output) == ("in.csv", "out.csv")
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["in.csv", "out.csv", "--keep", "a", "--keep-all"])
    assert done.value.code == 2 and "--keep-all" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--input-format", "--output-format", "--runtime", "--on-error"])
def test_an_option_outside_its_choices_is_argparses_usage_error(option: str, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["in.csv", "out.csv", option, "xml"])
    assert done.value.code == 2
    assert f"error: argument {option}: invalid choice: 'xml' (choose from " in capsys.readouterr().err


def test_keep_takes_comma_separated_names_and_flags_take_no_value() -> None:
    from scoring.batch import build_parser

    args = build_parser().parse_args(["in.csv", "out.csv", "--keep", " id , diagnosis,,", "--label-values"])
    assert args.keep == ["id", "diagnosis"] and args.label_values is True and args.keep_all is False
    args = build_parser().parse_args(["in.csv", "out.csv", "--keep-all"])
    assert args.keep is None and args.keep_all is True and args.label_values is False and args.rename_file is None
    assert (args.threads, args.batch_rows, args.on_error, args.threshold) == (1, 65_536, "stop", None)  # the defaults


def test_cli_threshold_is_checked_then_applied(runtime_name, export_dir, wdbc_csv, tmp_path, capsys) -> None:
    out = tmp_path / "out.csv"
    code, err = run([wdbc_csv, out, "--runtime", runtime_name, "--model", export_dir, "--threshold", "1.5"], capsys)
    assert (code, err) == (2, "ScoringError: --threshold must be in [0, 1], got 1.5.\n") and not out.exists()
    # Checked before the model is looked for: the cheap mistake is reported first.
    code, err = run([wdbc_csv, out, "--model", tmp_path / "missing", "--threshold", "1.5"], capsys)
    assert (code, err) == (2, "ScoringError: --threshold must be in [0, 1], got 1.5.\n")
    assert run([wdbc_csv, out, "--runtime", runtime_name, "--model", export_dir, "--threshold", "0.9"], capsys)[0] == 0
    scored = read_out(out)
    assert (scored["label"] == (scored["probability"] > 0.9)).all()
    assert 0 < scored["label"].sum() < (scored["probability"] > 0.5).sum()  # not the model's own 0.5


def test_cli_keep_all_passes_every_input_column_through(export_dir, wdbc_csv, tmp_path, capsys) -> None:
    out = tmp_path / "out.csv"
    assert run([wdbc_csv, out, "--model", export_dir, "--keep-all"], capsys)[0] == 0
    header = out.read_text().split("\n", 1)[0].split(",")
    assert header == wdbc_csv.read_text().split("\n", 1)[0].split(",") + ["probability", "label"]


def test_cli_label_values_and_formats_reach_the_scorer(export_dir, wdbc_csv, tmp_path, capsys) -> None:
    out = tmp_path / "out.csv"
    assert run([wdbc_csv, out, "--model", export_dir, "--label-values"], capsys)[0] == 0
    assert out.read_text().split("\n", 1)[0] == "id,probability,label,predicted_diagnosis"
    table = tmp_path / "table.data"  # a name that says neither CSV nor Parquet
    pl.read_csv(wdbc_csv).write_parquet(table)
    scored = tmp_path / "scored.data"
    assert run([table, scored, "--model", export_dir, "--input-format", "parquet", "--output-format", "parquet"],
               capsys)[0] == 0
    assert scored.read_bytes()[:4] == b"PAR1"
    assert pl.read_parquet(scored).equals(pl.read_csv(out, schema_overrides={"probability": pl.Float32}).drop(
        "predicted_diagnosis"))


def test_every_cli_option_reaches_the_one_library_call(export_dir, tmp_path, capsys, monkeypatch) -> None:
    """``main`` is argparse plus one ``score_csv`` call: each option arrives under its own name, none swapped."""
    import scoring.batch

    calls = []
    monkeypatch.setattr(scoring.batch, "score_csv", lambda *args, **kwargs: calls.append((args, kwargs)) or
                        scoring.batch.Summary("in", "out", "onnx"))
    renames = tmp_path / "renames.json"
    renames.write_text('{"a": "radius_mean", "b": "texture_mean"}')
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["in.csv", "out.pq", "--model", str(export_dir), "--threshold", "0.25", "--batch-rows", "7",
                 "--keep", "id,x", "--no-header", "--threads", "3", "--on-error", "skip", "--rejects", "bad.csv",
                 "--sep", ";", "--rename", "b=area_mean,c=perimeter_mean", "--rename-file", str(renames), "--no-verify",
                 "--label-values", "--input-format", "csv", "--output-format", "parquet", "--na-values", "x,?",
                 "--decimal", ",", "--max-record-bytes", "2MiB"]) == 0
    (args, kwargs), = calls
    assert args[:2] == ("in.csv", "out.pq") and kwargs.pop("runtime").name == "onnx" and not kwargs
    assert vars(args[2]) == {
        "model": str(export_dir), "runtime": None, "threshold": 0.25, "batch_rows": 7, "keep": ["id", "x"],
        "keep_all": False, "header": False, "threads": 3, "on_error": "skip", "rejects": "bad.csv", "progress": True,
        "sep": ";", "rename": {"a": "radius_mean", "b": "area_mean", "c": "perimeter_mean"}, "verify": False,
        "label_values": True, "input_format": "csv", "output_format": "parquet", "engine": "auto",
        "na_values": ("x", "?"), "decimal": ",", "max_record_bytes": 2 << 20}
    calls.clear()
    assert main(["in.csv", "out.csv", "--model", str(export_dir), "--quiet"]) == 0
    (args, kwargs), = calls
    assert {k: getattr(args[2], k) for k in ("progress", "verify", "header", "label_values", "rename", "na_values",
                                             "decimal")} == {
        "progress": False, "verify": True, "header": True, "label_values": False, "rename": {}, "na_values": None,
        "decimal": None}


def test_an_input_error_leaves_stdout_as_it_was(export_dir, wdbc_csv, tmp_path, monkeypatch, capsys) -> None:
    """Only a failed write to stdout points it at /dev/null: after any other error it still reaches its reader."""
    read, write = os.pipe()
    with open(read, "rb") as reader, open(write, "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        code, err = run([_write_bad(wdbc_csv, tmp_path, "text"), "-", "--model", export_dir], capsys)
        assert code == 2 and err.startswith("InputError: ")
        os.write(write, b"still here")
        monkeypatch.undo()
        stdout.close()
        assert reader.read().endswith(b"still here")


def test_cli_threads_reach_the_inference_session(export_dir, wdbc_csv, tmp_path, capsys, monkeypatch) -> None:
    import scoring.batch

    loaded = []

    def spy(*args, **kwargs):
        loaded.append(scoring.batch.load_runtime.__wrapped__(*args, **kwargs))
        return loaded[-1]

    spy.__wrapped__ = scoring.batch.load_runtime
    monkeypatch.setattr(scoring.batch, "load_runtime", spy)
    assert run([wdbc_csv, tmp_path / "out.csv", "--model", export_dir, "--threads", "2"], capsys)[0] == 0
    assert loaded[0]._session.get_session_options().intra_op_num_threads == 2


@pytest.mark.parametrize("runtime_name", ["onnx", "tf"])
def test_threads_are_capped_at_the_usable_cores(export_dir, monkeypatch, runtime_name: str) -> None:
    """The issue's case: --threads 100000 was handed to onnxruntime, which tried to build the threads."""
    import scoring.runtimes
    from contract.artifacts import resolve_model

    monkeypatch.setattr(scoring.runtimes, "usable_cores", lambda: 2)
    built = []
    monkeypatch.setattr(scoring.runtimes.RUNTIMES[runtime_name], "__init__",
                        lambda self, path, threads=1, **kwargs: built.append(threads) or None)
    monkeypatch.setattr(scoring.runtimes, "check_labels", lambda *args: None)
    scoring.runtimes.load_runtime(resolve_model(export_dir, runtime_name), threads=1000, verify=False)
    scoring.runtimes.load_runtime(resolve_model(export_dir, runtime_name), threads=1, verify=False)
    assert built == [2, 1]


@pytest.mark.slow
def test_an_onnx_session_gets_no_more_threads_than_cores(export_dir, wdbc_csv, tmp_path) -> None:
    """In a real process limited to one core (its affinity mask, as taskset or a container sets it)."""
    code = ("import os, sys; os.sched_setaffinity(0, {0}); import scoring.batch as b; from contract.artifacts import "
            "resolve_model; rt = b.load_runtime(resolve_model(sys.argv[1], 'onnx'), 64); "
            "print(rt._session.get_session_options().intra_op_num_threads)")
    done = subprocess.run([sys.executable, "-c", code, str(export_dir)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr


def test_cli_draws_a_progress_bar_only_on_a_terminal_and_not_with_quiet(export_dir, wdbc_csv, tmp_path, capsys,
                                                                         monkeypatch) -> None:
    out = tmp_path / "out.csv"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    err = run([wdbc_csv, out, "--model", export_dir], capsys)[1]
    assert err.startswith("\rscoring: ") and "B/s]" in err  # a byte-progress bar, erased before the closing line
    assert err.rsplit("\r", 1)[1].startswith("scored 569 rows")
    assert run([wdbc_csv, out, "--model", export_dir, "--quiet"], capsys)[1] == ""


def test_cli_verbose_keeps_tensorflows_log_lines_for_whatever_loads_it(export_dir, wdbc_csv, tmp_path, capsys,
                                                                         monkeypatch) -> None:
    from contract.tfquiet import VERBOSE_ENV

    monkeypatch.setenv(VERBOSE_ENV, "")  # recorded, so that the variable main sets is removed after the test
    monkeypatch.delenv(VERBOSE_ENV)
    assert run([wdbc_csv, tmp_path / "out.csv", "--model", export_dir], capsys)[0] == 0
    assert VERBOSE_ENV not in os.environ
    assert run([wdbc_csv, tmp_path / "out.csv", "--model", export_dir, "--verbose"], capsys)[0] == 0
    assert os.environ[VERBOSE_ENV] == "1"


@pytest.mark.parametrize(("previous", "output", "message"), [
    (None, "out.csv", "Interrupted (SIGINT): {out} was not written.\n"),
    (b"precious\n", "out.csv", "Interrupted (SIGINT): {out} was not written; the previous file is unchanged.\n"),
    (None, "-", "Interrupted (SIGINT): the output on stdout is incomplete.\n"),
])
def test_ctrl_c_says_what_became_of_the_output(export_dir, wdbc_csv, tmp_path, capsys, monkeypatch, previous, output,
                                              message) -> None:
    import scoring.batch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    out = tmp_path / output if output != "-" else output
    if previous is not None:
        out.write_bytes(previous)
    monkeypatch.setattr(scoring.batch, "score_csv", interrupted)
    code, err = run([wdbc_csv, out, "--model", export_dir], capsys)
    assert (code, err) == (130, message.format(out=out))
    if previous is not None:
        assert out.read_bytes() == previous


def test_the_closing_line_names_rows_positives_rejects_runtime_and_output(runtime_name, export_dir, wdbc_csv, tmp_path,
                                                                            capsys) -> None:
    out = tmp_path / "out.csv"
    code, err = run([wdbc_csv, out, "--runtime", runtime_name, "--model", export_dir], capsys)
    assert code == 0
    rate = r"in \d+\.\d\d s, [\d,]+ rows/s"
    assert re.fullmatch(rf"scored 569 rows \(208 positive\) {rate} \[{runtime_name}\] -> {re.escape(str(out))}\n", err), err
    code, err = run([_write_bad(wdbc_csv, tmp_path, "text"), out, "--runtime", runtime_name, "--model", export_dir,
                     "--on-error", "skip"], capsys)
    assert code == 0
    assert re.fullmatch(rf"scored 568 rows \(\d+ positive, 1 rejected -> {re.escape(str(out))}\.rejects\.csv\) {rate} "
                        rf"\[{runtime_name}\] -> {re.escape(str(out))}\n", err), err


def test_stdout_closed_by_its_reader_is_one_line_and_then_sent_to_dev_null(export_dir, wdbc_csv, monkeypatch,
                                                                           capsys) -> None:
    """``... - | head -1``: the reader goes away. One line says so, and stdout then points at /dev/null, so the
    interpreter's flush at exit adds no second error."""
    read, write = os.pipe()
    os.close(read)
    with open(write, "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        code, err = run([wdbc_csv, "-", "--model", export_dir], capsys)
        assert code == 2
        error_line(err, "OutputError", "stdout", "Broken pipe")
        assert os.write(write, b"more") == 4  # no EPIPE any more
        monkeypatch.undo()


@pytest.mark.parametrize("stdout", ["closed", "no file descriptor"])
def test_silencing_a_stdout_without_a_file_descriptor_is_a_no_op(stdout: str, monkeypatch) -> None:
    from scoring.batch import _silence_stdout

    if stdout == "closed":
        handle = open(os.devnull, "w")
        handle.close()  # fileno() raises ValueError
    else:
        handle = io.StringIO()  # fileno() raises io.UnsupportedOperation
    monkeypatch.setattr(sys, "stdout", handle)
    _silence_stdout()


def test_on_error_skip_scores_good_rows_and_writes_rejects(runtime_name, export_dir, wdbc_csv, tmp_path, capsys) -> None:
    src = _write_bad(wdbc_csv, tmp_path, "text")
    out = tmp_path / "out.csv"
    code, err = run([src, out, "--runtime", runtime_name, "--model", export_dir, "--on-error", "skip"], capsys)
    assert code == 0
    assert "568 rows" in err and "1 rejected" in err
    rejects = pd.read_csv(tmp_path / "out.csv.rejects.csv")
    assert rejects[["line", "column"]].values.tolist() == [[42, "smoothness_mean"]]
    assert "got 'abc'" in rejects["reason"][0] and rejects["record"][0].startswith("41,")
    scored = pd.read_csv(out)
    assert len(scored) == 568 and 41 not in scored["id"].tolist()
    assert scored["probability"].notna().all()


@pytest.mark.parametrize("engine_output", ["device", "fifo"])
def test_devices_and_fifos_as_out_and_rejects_are_written_in_place(runtime_name, export_dir, wdbc_csv, tmp_path,
                                                                    capsys, engine_output: str) -> None:
    """The issue's case: OUT and --rejects that were a device or a FIFO were replaced by a plain file."""
    from tests.test_output import device

    src = _write_bad(wdbc_csv, tmp_path, "text")
    reference = tmp_path / "reference.csv"
    assert run([src, reference, "--model", export_dir, "--runtime", runtime_name, "--on-error", "skip"], capsys)[0] == 0
    if engine_output == "device":
        out = device(tmp_path, "null", 1, 3)
    else:
        out = tmp_path / "out.fifo"
        os.mkfifo(out)
    rejects = tmp_path / "rejects.fifo"
    os.mkfifo(rejects)
    got = {path: tmp_path / f"{path.name}.got" for path in (out, rejects) if path.is_fifo()}
    readers = [subprocess.Popen(["cp", str(fifo), str(copy)]) for fifo, copy in got.items()]
    code, err = run([src, out, "--model", export_dir, "--runtime", runtime_name, "--on-error", "skip", "--rejects",
                     rejects], capsys)
    assert code == 0, err
    assert all(reader.wait(timeout=60) == 0 for reader in readers)
    assert got[rejects].read_bytes() == (tmp_path / "reference.csv.rejects.csv").read_bytes()
    if out.is_fifo():
        assert got[out].read_bytes() == reference.read_bytes()
    assert out.is_char_device() or out.is_fifo()
    assert rejects.is_fifo()
    # Without --on-error skip a plain CSV takes polars' streaming engine, which writes by name: not into a device.
    assert run([wdbc_csv, out if out.is_char_device() else tmp_path / "plain.csv", "--model", export_dir], capsys)[0] == 0


@pytest.mark.parametrize(("name", "message"), [
    ("newdir/", "ScoringError: Output path {out} ends in '/', which names a directory; expected a file path or '-' for "
                "stdout."),
    ("x.parquet.gz", "ScoringError: Parquet output {out} would be compressed twice; Parquet compresses inside the file "
                     "(snappy/zstd), so drop the .gz/.bz2 suffix."),
    ("x.PQ.bz2", "ScoringError: Parquet output {out} would be compressed twice"),
])
def test_output_names_that_say_something_else_are_refused(wdbc_csv, export_dir, tmp_path, capsys, name: str,
                                                          message: str) -> None:
    """The issue's cases: `newdir/` wrote a file named newdir; `x.parquet.gz` wrote a gzipped CSV although the README
    says it is refused."""
    out = f"{tmp_path}/{name}"
    code, err = run([wdbc_csv, out, "--model", export_dir], capsys)
    assert code == 2 and err.startswith(message.format(out=out)), err
    assert os.listdir(tmp_path) == []


def test_rejects_without_on_error_skip_is_refused(wdbc_csv, export_dir, tmp_path, capsys) -> None:
    """The issue's case: --rejects R without --on-error skip replaced R with a header-only file."""
    mine = tmp_path / "mine.csv"
    mine.write_text("precious\n")
    code, err = run([wdbc_csv, tmp_path / "out.csv", "--model", export_dir, "--rejects", mine], capsys)
    assert code == 2 and err.startswith("ScoringError: --rejects names the file for rows that --on-error skip")
    assert mine.read_text() == "precious\n" and not (tmp_path / "out.csv").exists()


def test_a_killed_skip_runs_rejects_temporary_is_swept_by_a_later_run_that_does_not_skip(
        wdbc_csv, export_dir, tmp_path, capsys) -> None:
    from contract.temporaries import HOST

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = tmp_path / f".out.csv.rejects.csv.{HOST}.{dead.pid}.ab12cd_3.tmp"
    left.write_text("line,column,reason,record\n")
    assert run([wdbc_csv, tmp_path / "out.csv", "--model", export_dir], capsys)[0] == 0
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]


HEADER = "id," + ",".join(FEATURE_NAMES)
GOOD = "\n".join([HEADER] + [f"{i}," + ",".join(["1.5"] * 30) for i in range(1, 50)]) + "\n"


def _row3(value: str) -> str:
    """GOOD with file line 4 (id 3) starting ``3,VALUE`` in place of ``3,1.5``."""
    return GOOD.replace("\n3,1.5", "\n3," + value)


#: Broken inputs and options: (file content or None, file name, extra arguments; OUT=... sets the output).
BROKEN = {
    "empty": (b"", "in.csv", []),
    "bom-only": (b"\xef\xbb\xbf", "in.csv", []),
    "blank-lines-only": (b"\r\n\n\n", "in.csv", []),
    "missing-column": (GOOD.replace("radius_mean", "r").encode(), "in.csv", []),
    "duplicate-column": (GOOD.replace("texture_mean", "radius_mean").encode(), "in.csv", []),
    "latin-1-header": (("id,caf\xe9," + GOOD.split("\n", 1)[1]).encode("latin-1"), "in.csv", []),
    "latin-1-value": (_row3("caf\xe9").encode("latin-1"), "in.csv", []),
    "utf-16": (GOOD.encode("utf-16"), "in.csv", []),
    "binary": (bytes(range(256)) * 20, "in.csv", []),
    "cr-only-line-endings": (GOOD.replace("\n", "\r").encode(), "in.csv", []),
    "text-value": (_row3("abc").encode(), "in.csv", []),
    "empty-value": (_row3("").encode(), "in.csv", []),
    "nan": (_row3("nan").encode(), "in.csv", []),
    "inf": (_row3("-inf").encode(), "in.csv", []),
    "overflow": (_row3("9" * 400).encode(), "in.csv", []),
    "short-row": (GOOD.replace("\n3,1.5,", "\n3,").encode(), "in.csv", []),
    "long-row": (_row3("1.5,7").encode(), "in.csv", []),
    "unterminated-quote": (_row3('"1.5').encode(), "in.csv", []),
    "stray-quote": (_row3('1"5').encode(), "in.csv", []),
    "nul-byte": (_row3("1\x005").encode(), "in.csv", []),
    "field-over-131072-chars": (_row3("9" * 200_000 + "x").encode(), "in.csv", []),
    "lone-cr-in-a-field": (_row3("1\r5").encode(), "in.csv", []),
    "header-without-newline": (("id," + "x" * 1_000_000).encode(), "in.csv", []),
    "gzip-truncated": (gzip.compress(GOOD.encode())[:-30], "in.csv.gz", []),
    "gzip-not-gzip": (GOOD.encode(), "in.csv.gz", []),
    "gzip-bad-value": (gzip.compress(_row3("abc").encode()), "in.csv.gz", []),
    "bz2-corrupt": (b"BZh9garbage", "in.csv.bz2", []),
    "no-header-too-few-columns": (b"1,2,3\n", "in.csv", ["--no-header"]),
    "no-header-but-a-header": (GOOD.encode(), "in.csv", ["--no-header"]),
    "keep-missing": (GOOD.encode(), "in.csv", ["--keep", "nope"]),
    "keep-output-name": (GOOD.replace("id,", "probability,", 1).encode(), "in.csv", ["--keep", "probability"]),
    "input-missing": (None, "nope.csv", []),
    "input-is-a-directory": (None, "in", []),
    "output-directory-missing": (GOOD.encode(), "in.csv", ["OUT=nodir/out.csv"]),
    "output-is-a-directory": (GOOD.encode(), "in.csv", ["OUT=."]),
    "output-is-the-input": (GOOD.encode(), "in.csv", ["OUT=in.csv"]),
    "rejects-is-the-input": (GOOD.encode(), "in.csv", ["--on-error", "skip", "--rejects", "in.csv"]),
    "skip-to-stdout-without-rejects": (GOOD.encode(), "in.csv", ["--on-error", "skip", "OUT=-"]),
    "threshold-out-of-range": (GOOD.encode(), "in.csv", ["--threshold", "2"]),
    "threshold-nan": (GOOD.encode(), "in.csv", ["--threshold", "nan"]),
    "batch-rows-0": (GOOD.encode(), "in.csv", ["--batch-rows", "0"]),
    "threads-0": (GOOD.encode(), "in.csv", ["--threads", "0"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_inputs_give_one_line_exit_2_and_leave_nothing(
        runtime_name: str, loaded_runtimes, export_dir: Path, tmp_path: Path, capfd, monkeypatch, case: str) -> None:
    """No traceback, ever: one ``Type: message`` line on stderr, exit 2, nothing on stdout, no file left."""
    import scoring.batch

    data, name, extra = BROKEN[case]
    if data is not None:
        (tmp_path / name).write_bytes(data)
    elif name == "in":
        (tmp_path / name).mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    out = next((a[4:] for a in extra if a.startswith("OUT=")), "out.csv")
    args = [a for a in extra if not a.startswith("OUT=")]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(scoring.batch, "load_runtime", lambda ref, threads=1, verify=True: loaded_runtimes[ref.runtime])
    capfd.readouterr()
    code = main([name, out, "--runtime", runtime_name, "--model", str(export_dir), *args])
    captured = capfd.readouterr()
    lines = captured.err.splitlines()
    assert code == 2 and len(lines) == 1, captured.err[-2000:]
    assert re.match(r"(InputError|OutputError|ScoringError|ModelError): \S", lines[0]), lines[0]
    assert len(lines[0]) < 400, lines[0]  # long values are cut
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def _plain_and_gzipped(factory: pytest.TempPathFactory, rows: int) -> dict[str, Path]:
    """Generated rows, plain (the streaming engine takes it) and gzipped (the block pipeline does)."""
    from benchmarks.datagen import write_csv

    plain = write_csv(factory.mktemp("generated") / "gen.csv", rows)
    packed = plain.with_suffix(".csv.gz")
    packed.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    return {"streaming": plain, "blocks": packed}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """20,000 rows: about 400 KB of output."""
    return _plain_and_gzipped(tmp_path_factory, 20_000)


@pytest.mark.parametrize("engine", ["streaming", "blocks"])
def test_full_disk_exits_2_with_one_line_and_keeps_the_previous_output(
        runtime_name: str, export_dir: Path, generated: dict[str, Path], small_filesystem: Path, capfd,
        engine: str) -> None:
    out = small_filesystem / "out.csv"
    out.write_text("previous\n")
    capfd.readouterr()
    code = main([str(generated[engine]), str(out), "--runtime", runtime_name, "--model", str(export_dir)])
    lines = capfd.readouterr().err.splitlines()
    assert code == 2
    error_line("\n".join(lines), "OutputError", str(out), "No space left on device", "out.csv is unchanged")
    assert out.read_text() == "previous\n"
    assert [p.name for p in small_filesystem.iterdir()] == ["out.csv"]


def test_a_field_over_the_csv_module_limit_passes_through_the_exact_parser(runtime, tmp_path: Path) -> None:
    """A 200,000-character note in a block that needs the exact parser (it has a bad row)."""
    long_note = "x" * 200_000
    rows = [f"{i},{long_note if i == 2 else 'short'}," + ",".join(["1.5"] * 30) for i in range(1, 6)]
    rows[3] = "4,short," + ",".join(["abc"] * 30)
    src = tmp_path / "in.csv"
    src.write_text("\n".join(["id,note," + ",".join(FEATURE_NAMES), *rows]) + "\n")
    out = tmp_path / "out.csv"
    summary = score_csv(src, out, runtime=runtime, keep_all=True, on_error="skip")
    assert summary.rows == 4 and summary.rejected == 1
    scored = pl.read_csv(out, infer_schema=False)
    assert scored["id"].to_list() == ["1", "2", "3", "5"] and scored["note"][1] == long_note
    assert pd.read_csv(tmp_path / "out.csv.rejects.csv")["line"].tolist() == [5]


@pytest.mark.parametrize("batch_rows", [3, 65_536])
def test_every_reject_of_a_block_is_written(runtime, tmp_path: Path, batch_rows: int) -> None:
    rows = [f"{i}," + ",".join(["1.5"] * 30) for i in range(1, 21)]
    for i in (4, 5, 11, 19):  # file lines 5, 6, 12, 20: two of them adjacent, in one block or several
        rows[i - 1] = f"{i}," + ",".join(["bad"] * 30)
    src = tmp_path / "in.csv"
    src.write_text("\n".join([HEADER, *rows]) + "\n")
    summary = score_csv(src, tmp_path / "out.csv", runtime=runtime, on_error="skip", batch_rows=batch_rows)
    assert summary.rows == 16 and summary.rejected == 4
    assert pd.read_csv(tmp_path / "out.csv.rejects.csv")["line"].tolist() == [5, 6, 12, 20]
    assert 4 not in pd.read_csv(tmp_path / "out.csv")["id"].tolist()


@pytest.mark.parametrize("engine", ["auto", "blocks"])
def test_a_short_row_is_rejected_even_when_only_a_pass_through_column_is_missing(
        runtime, tmp_path: Path, engine: str) -> None:
    """The last column is not a feature: polars fills the short row's gap with a null, not an error."""
    rows = [",".join(["1.5"] * 30) + f",note{i}" for i in range(1, 6)]
    rows[2] = ",".join(["1.5"] * 30)  # file line 4 lacks its note
    src = tmp_path / "in.csv"
    src.write_text("\n".join([",".join(FEATURE_NAMES) + ",note", *rows]) + "\n")
    with pytest.raises(InputError, match=r"in.csv, line 4: expected 31 fields \(as in the header\), saw 30"):
        score_csv(src, tmp_path / "out.csv", runtime=runtime, engine=engine)


@pytest.mark.parametrize("batch_rows", [2, 65_536])
def test_error_lines_count_headerless_files_and_quoted_newlines(runtime, tmp_path: Path, batch_rows: int) -> None:
    features = ",".join(["1.5"] * 30)
    lines = [f'{i},"multi\nline note",{features}' for i in range(1, 5)]  # each record takes two lines
    lines.append('5,"x",' + ",".join(["1.5"] * 29 + ["abc"]))  # file lines 9 (headerless), 10 (header)
    headerless, headered = tmp_path / "plain.csv", tmp_path / "headed.csv"
    headerless.write_text("\n".join(lines) + "\n")
    headered.write_text("\n".join(["id,note," + ",".join(FEATURE_NAMES), *lines]) + "\n")
    with pytest.raises(InputError, match=r"plain.csv, line 9, column 32 \('column_32'\): expected a number"):
        score_csv(headerless, tmp_path / "out.csv", runtime=runtime, header=False, batch_rows=batch_rows)
    with pytest.raises(InputError, match=r"headed.csv, line 10, column 32 \('fractal_dimension_largest'\)"):
        score_csv(headered, tmp_path / "out.csv", runtime=runtime, batch_rows=batch_rows)


# --- model problems -----------------------------------------------------------------------------


def test_missing_default_model_says_which_command_makes_it(wdbc_csv, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = run([wdbc_csv, tmp_path / "out.csv"], capsys)
    assert code == 2
    assert "ModelError: No default model at artifacts/export. Run `python -m model.train && python -m export`" in err
    assert not (tmp_path / "out.csv").exists()


def test_corrupt_onnx_model(wdbc_csv, tmp_path, capsys) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    code, err = run([wdbc_csv, tmp_path / "out.csv", "--model", bad], capsys)
    assert code == 2 and err.startswith("ModelError: Could not load the ONNX model")


def test_feature_count_mismatch_is_reported(export_dir, wdbc_csv, tmp_path, capsys) -> None:
    import json

    import onnx

    model = onnx.load(str(export_dir / "model.onnx"))
    for prop in model.metadata_props:
        if prop.key == "feature_names":
            prop.value = json.dumps(list(FEATURE_NAMES)[:29])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    code, err = run([wdbc_csv, tmp_path / "out.csv", "--model", path], capsys)
    assert code == 2 and "takes 30 features, but its metadata names 29" in err


def test_bad_options(wdbc_csv, export_dir, tmp_path, capsys) -> None:
    code, err = run([wdbc_csv, tmp_path / "o.csv", "--model", export_dir, "--threshold", "1.5"], capsys)
    assert code == 2 and "--threshold must be in [0, 1], got 1.5" in err
    code, err = run([tmp_path / "nope.csv", tmp_path / "o.csv", "--model", export_dir], capsys)
    assert code == 2 and "nope.csv: file not found" in err
    code, err = run([wdbc_csv, tmp_path / "no-such-dir" / "o.csv", "--model", export_dir], capsys)
    assert code == 2 and "does not exist" in err


def test_output_never_replaces_the_input(wdbc_csv, export_dir, tmp_path, capsys) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(wdbc_csv.read_bytes())
    code, err = run([src, tmp_path / "." / "in.csv", "--model", export_dir], capsys)
    assert (code, err) == (2, f"ScoringError: The input and the output are the same file ({src} and "
                              f"{tmp_path / '.' / 'in.csv'}); writing the output would destroy the input. Choose "
                              "another output path.\n")
    assert src.read_bytes() == wdbc_csv.read_bytes()


def test_a_second_path_to_the_input_is_the_input(wdbc_csv, export_dir, tmp_path, capsys, bind_mount) -> None:
    """The issue's case: with a bind mount (container volumes, NFS) `scoring.batch src/in.csv dst/in.csv` replaced
    the input with its scores; paths differ, the device and inode do not. A hard link is caught the same way."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "in.csv").write_bytes(wdbc_csv.read_bytes())
    os.link(src / "in.csv", tmp_path / "linked.csv")
    for other in (tmp_path / "linked.csv", bind_mount(src) / "in.csv"):
        for args in ([other], [tmp_path / "out.csv", "--on-error", "skip", "--rejects", other]):
            code, err = run([src / "in.csv", *args, "--model", export_dir], capsys)
            assert code == 2 and re.fullmatch(r"ScoringError: The input and the (output|rejects) are the same file "
                                              r"\(.*\); writing the \1 would destroy the input\. .*\n", err), err
            assert (src / "in.csv").read_bytes() == wdbc_csv.read_bytes()
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow
def test_stdout_appended_to_the_input_is_refused(wdbc_csv, export_dir, tmp_path) -> None:
    """The issue's case: `scoring.batch in.csv - >> in.csv` appended the scores to the input."""
    src = tmp_path / "in.csv"
    src.write_bytes(wdbc_csv.read_bytes())
    done = subprocess.run(f"{sys.executable} -m scoring.batch in.csv - --model {export_dir} >> in.csv", shell=True,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == ("ScoringError: The input and the output are the same file (in.csv and stdout); writing "
                           "the output would destroy the input. Choose another output path.\n")
    assert src.read_bytes() == wdbc_csv.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["/dev/stdout", "/proc/self/fd/1", "/dev/fd/1"])
def test_stdouts_other_names_mean_stdout(export_dir, wdbc_csv, tmp_path, name: str) -> None:
    """The issue's case: `/dev/stdout` (a link to /proc/self/fd/1) was replaced by a rename: nothing printed."""
    reference = tmp_path / "ref.csv"
    score_csv(wdbc_csv, reference, model=export_dir)
    done = subprocess.run([sys.executable, "-m", "scoring.batch", str(wdbc_csv), name, "--model", str(export_dir)],
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == reference.read_bytes() and done.stderr.decode().endswith("-> -\n")
    assert os.path.islink("/dev/stdout") and os.readlink("/dev/stdout") == "/proc/self/fd/1"


def test_stdin_to_stdout_in_process(runtime, wdbc_csv: Path, tmp_path: Path, monkeypatch) -> None:
    # '-' at both ends is two streams, not one file given twice
    reference = tmp_path / "reference.csv"
    score_csv(wdbc_csv, reference, runtime=runtime)
    written = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(wdbc_csv.read_bytes())))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(written))
    assert score_csv("-", "-", runtime=runtime).rows == 569
    sys.stdout.flush()
    assert written.getvalue() == reference.read_bytes()


def test_library_options_are_checked_like_the_clis(runtime, wdbc_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    with pytest.raises(ScoringError, match=r"^--threshold must be in \[0, 1\], got 1.5\.$"):
        score_csv(wdbc_csv, out, runtime=runtime, threshold=1.5)
    with pytest.raises(ScoringError, match=r"^engine must be one of \['auto', 'blocks'\], got 'fast'\.$"):
        score_csv(wdbc_csv, out, runtime=runtime, engine="fast")
    for option, message in [({"batch_rows": 0}, "--batch-rows must be a positive integer, got 0."),
                            ({"batch_rows": 2**63}, "--batch-rows must be at most 1,073,741,824, got "
                                                    "9,223,372,036,854,775,808."),
                            ({"threads": 0}, "--threads must be a positive integer, got 0."),
                            ({"threads": 2**32}, "--threads must be at most 1,024, got 4,294,967,296."),
                            ({"on_error": "ignore"}, "--on-error must be one of ['stop', 'skip'], got 'ignore'.")]:
        with pytest.raises(ScoringError) as refused:
            score_csv(wdbc_csv, out, runtime=runtime, **option)
        assert str(refused.value) == message
    table = tmp_path / "in.parquet"
    pl.read_csv(wdbc_csv).write_parquet(table)
    with pytest.raises(ScoringError, match=r"^--sep is for CSV input; .*in.parquet is read as Parquet"):
        score_csv(table, out, runtime=runtime, sep=";")
    assert not out.exists()
    # both ends of [0, 1] are thresholds: 1 labels nothing positive, 0 everything with a probability above 0
    assert score_csv(wdbc_csv, out, runtime=runtime, threshold=1.0).positives == 0
    assert score_csv(wdbc_csv, out, runtime=runtime, threshold=0.0).positives == 569


def test_score_csv_loads_the_model_checked_and_on_one_thread_unless_told(export_dir: Path, wdbc_csv: Path,
                                                                          tmp_path: Path, monkeypatch) -> None:
    import scoring.batch

    calls, original = [], scoring.batch.load_runtime

    def spy(ref, *args):
        calls.append(args)
        return original(ref, *args)

    monkeypatch.setattr(scoring.batch, "load_runtime", spy)
    score_csv(wdbc_csv, tmp_path / "out.csv", model=export_dir)
    score_csv(wdbc_csv, tmp_path / "out.csv", model=export_dir, threads=2, verify=False)
    assert calls == [(1, True), (2, False)]


@pytest.mark.parametrize("header", [True, False])
def test_a_first_line_that_is_not_utf8_is_an_error_at_line_1(runtime, wdbc_csv: Path, tmp_path: Path,
                                                              header: bool) -> None:
    lines = wdbc_csv.read_bytes().splitlines(keepends=True)[0 if header else 1:]
    lines[0] = lines[0].replace(b",", "\u00e4,".encode("latin-1"), 1)  # a spreadsheet's Latin-1 export
    src = tmp_path / "in.csv"
    src.write_bytes(b"".join(lines))
    with pytest.raises(InputError) as refused:
        score_csv(src, tmp_path / "out.csv", runtime=runtime, header=header)
    assert str(refused.value) == f"{src}, line 1: expected UTF-8 text, found byte 0xe4"


# --- the block pipeline: workers, memory bound, progress, stage timings --------------------------


@pytest.mark.parametrize("output", ["out.csv", "out.parquet"])
def test_the_block_engine_times_every_stage_for_the_benchmarks(runtime, wdbc_csv: Path, tmp_path: Path,
                                                               output: str) -> None:
    # benchmarks/ report these per stage: a stage timed under another name (or not at all) misleads them
    stages = score_csv(wdbc_csv, tmp_path / output, runtime=runtime, engine="blocks", batch_rows=100).stages
    assert set(stages) == {"read", "parse", "convert", "infer", "serialize", "write", "sync", "engine"}
    assert all(seconds > 0 for name, seconds in stages.items() if name != "engine"), stages


def test_the_summary_adds_up_every_block(runtime, wdbc_csv: Path, tmp_path: Path) -> None:
    lines = wdbc_csv.read_bytes().splitlines(keepends=True)
    for line in (50, 450):  # a bad row in the first block and one in the fifth
        lines[line - 1] = lines[line - 1].replace(b",", b",x,", 1)
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(b"".join(lines))
    summary = score_csv(src, out, runtime=runtime, engine="blocks", batch_rows=100, on_error="skip")
    labels = read_out(out)["label"]
    assert (summary.rows, summary.positives, summary.rejected) == (567, labels.sum(), 2)
    assert 0 < labels.sum() < 567


@pytest.mark.parametrize("name", ["in.csv", "in.parquet"])
def test_a_kept_column_named_like_the_label_values_column_is_refused(runtime, wdbc_csv: Path, tmp_path: Path,
                                                                     name: str) -> None:
    src, out = tmp_path / name, tmp_path / "out.csv"
    frame = pl.read_csv(wdbc_csv).with_columns(pl.lit("B").alias("predicted_diagnosis"))
    frame.write_parquet(src) if name.endswith(".parquet") else frame.write_csv(src)
    with pytest.raises(InputError) as refused:
        score_csv(src, out, runtime=runtime, keep=["id", "predicted_diagnosis"], label_values=True)
    where = f"{src}, line 1" if name.endswith(".csv") else f"{src}"  # a Parquet file has no lines: its schema
    says(str(refused.value), f"{where}:", "'predicted_diagnosis'", "--label-values", "--keep")
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("header", [True, False])
def test_blocks_hold_batch_rows_rows_when_rows_are_alike(runtime, tmp_path: Path, header: bool) -> None:
    # A block's size in bytes is estimated from the first data row (not the header, nor its first word): with
    # rows all alike, each block is --batch-rows rows, so memory follows --batch-rows whatever the header.
    from scoring.batch import open_blocks
    from scoring.io.layout import Columns
    from scoring.io.sources import Source

    rows = [",".join([f"row {i:02d}", *(f"{(i * j) % 97 / 10:08.3f}" for j in range(30))]) for i in range(95)]
    src = tmp_path / "in.csv"
    src.write_text("\n".join([",".join(["id", *FEATURE_NAMES])] * header + rows) + "\n")
    with Source(src) as source:
        layout, blocks = open_blocks(source, runtime.info, Columns(header=header), 10)
        assert [block.data.count(b"\n") for block in blocks] == [10] * 9 + [5]
    assert layout.feature_index == tuple(range(1, 31))


@pytest.mark.parametrize("engine", ["auto", "blocks"])
def test_the_summary_names_the_input_the_output_and_the_runtime_asked_for(export_dir: Path, tmp_path: Path,
                                                                          runtime_name: str, engine: str) -> None:
    out = tmp_path / "out.csv"
    for src in (_tricky_csv(tmp_path / "plain.csv"), _tricky_csv(tmp_path / "blank.csv", blank_line=True)):
        summary = score_csv(src, out, runtime=runtime_name, model=export_dir, engine=engine)
        # the blank line makes the streaming engine decline: the summary starts over on the block pipeline
        assert (summary.source, summary.output, summary.runtime, summary.rows) == (str(src), str(out), runtime_name, 40)
        assert summary.stages["engine"] == ("polars-streaming" if (engine, src.stem) == ("auto", "plain") else "blocks")


def test_skipping_bad_rows_into_stdout_needs_a_rejects_path(runtime, wdbc_csv: Path) -> None:
    with pytest.raises(ScoringError) as refused:
        score_csv(wdbc_csv, "-", runtime=runtime, on_error="skip")
    says(str(refused.value), "--on-error skip", "'-'", "--rejects PATH")


def test_workers_are_one_per_usable_core(monkeypatch) -> None:
    import scoring.batch

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)  # taskset -c 0
    assert scoring.batch.usable_cores() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5})
    assert scoring.batch.usable_cores() == 3
    monkeypatch.delattr(os, "sched_getaffinity")  # not Linux: all the machine's cores, or one if unknown
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert scoring.batch.usable_cores() == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert scoring.batch.usable_cores() == 1


@pytest.mark.parametrize("cores", [1, 2])
def test_blocks_run_on_one_named_thread_per_core_with_two_blocks_each_in_flight(monkeypatch, cores: int) -> None:
    import scoring.batch
    from scoring.timing import Stages

    monkeypatch.setattr(scoring.batch, "usable_cores", lambda: cores)
    read, threads = [], set()

    def blocks():
        for i in range(20):
            read.append(i)
            yield i

    def work(i: int):
        threads.add(threading.current_thread().name)
        return i

    in_flight = []
    for i in scoring.batch._in_parallel(blocks(), work, Stages()):
        in_flight.append(len(read) - i)  # blocks read but not yet handed on, this one included
    # memory stays bounded (two blocks per worker waiting, plus the one handed on) and every worker has work
    assert in_flight[0] == 2 * cores + 1 and max(in_flight) == 2 * cores + 1
    assert len(threads) <= cores and all(name.startswith("score_") for name in threads), threads  # py-spy shows them


def test_after_a_block_fails_queued_blocks_never_run_and_running_ones_finish_first(monkeypatch) -> None:
    # The docstring's promise, which keeps a failed run from going on scoring (and writing) in the background.
    import scoring.batch
    from scoring.timing import Stages

    monkeypatch.setattr(scoring.batch, "usable_cores", lambda: 2)
    started, finished = [], []

    def work(i: int):
        started.append(i)
        if i == 0:
            raise InputError("bad row", "in.csv", 2)
        time.sleep(0.3)
        finished.append(i)
        return i

    with pytest.raises(InputError):
        list(scoring.batch._in_parallel(iter(range(5)), work, Stages()))
    assert sorted(finished) == sorted(started[1:])  # the running blocks ended before the error came out
    assert len(started) < 5, started  # the queued ones were cancelled
    time.sleep(0.5)
    assert len(started) == len(finished) + 1  # and nothing started afterwards


def _recording_bar(monkeypatch) -> list:
    """Patch the block engine's progress bar to a real tqdm bar (on a string) that records its position."""
    import scoring.batch

    bars, original = [], scoring.batch.progress_bar

    def bar(total):
        made = original(total, io.StringIO())
        update = made.update
        made.positions = []

        def recorded(n=1):
            update(n)
            made.positions.append(made.n)

        made.update = recorded
        bars.append(made)
        return made

    monkeypatch.setattr(scoring.batch, "progress_bar", bar)
    return bars


def test_the_block_engines_progress_follows_the_bytes_read(runtime, wdbc_csv: Path, tmp_path: Path,
                                                           monkeypatch) -> None:
    bars = _recording_bar(monkeypatch)
    score_csv(wdbc_csv, tmp_path / "out.csv", runtime=runtime, engine="blocks", batch_rows=100, progress=True)
    (bar,) = bars
    size = wdbc_csv.stat().st_size
    assert bar.total == size and bar.positions[-1] == size
    # by bytes read, not by rows: the first of six blocks is already more than its 100 rows' worth of bytes
    assert 100 * 150 < bar.positions[0] < size and bar.positions == sorted(bar.positions)
    assert score_csv(wdbc_csv, tmp_path / "out.csv", runtime=runtime, engine="blocks").rows == 569
    assert len(bars) == 1  # no bar unless asked for


def test_a_parquet_inputs_progress_moves_by_rows_in_bytes_up_to_its_size(runtime, wdbc_csv: Path, tmp_path: Path,
                                                                        monkeypatch) -> None:
    table = tmp_path / "in.parquet"
    frame = pl.read_csv(wdbc_csv)
    frame.with_columns(pl.when(pl.col("id") == frame["id"][9]).then(None).otherwise(pl.col("radius_mean"))
                       .alias("radius_mean")).write_parquet(table, row_group_size=100)  # row 10 is rejected
    bars = _recording_bar(monkeypatch)
    summary = score_csv(table, tmp_path / "out.csv", runtime=runtime, batch_rows=100, progress=True, on_error="skip")
    assert (summary.rows, summary.rejected) == (568, 1)
    (bar,) = bars
    size = table.stat().st_size
    assert bar.total == size and bar.positions[-1] == size
    # its reader gives no byte position: each row group, rejected rows included, moves the bar by its share
    assert bar.positions[0] == int(100 * (size / 569)) and bar.positions == sorted(bar.positions)


def test_stdin_has_no_size_so_the_bar_counts_rows(runtime, wdbc_csv: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(wdbc_csv.read_bytes())))
    bars = _recording_bar(monkeypatch)
    score_csv("-", tmp_path / "out.csv", runtime=runtime, batch_rows=100, progress=True)
    (bar,) = bars
    assert bar.total is None and bar.positions[0] == 100 and bar.positions[-1] == 569


@pytest.mark.parametrize("engine", ["auto", "blocks"])
def test_the_summary_times_the_run_itself(runtime, wdbc_csv: Path, tmp_path: Path, engine: str) -> None:
    before = time.perf_counter()
    summary = score_csv(wdbc_csv, tmp_path / "out.csv", runtime=runtime, engine=engine)
    assert 0 < summary.seconds <= time.perf_counter() - before
    assert summary.rows_per_second == pytest.approx(569 / summary.seconds)


def test_the_streaming_engine_writes_parquet_when_asked(runtime, wdbc_csv: Path, tmp_path: Path) -> None:
    summary = score_csv(wdbc_csv, tmp_path / "out.parquet", runtime=runtime)
    assert summary.stages["engine"] == "polars-streaming"
    score_csv(wdbc_csv, tmp_path / "blocks.parquet", runtime=runtime, engine="blocks")
    assert pl.read_parquet(tmp_path / "out.parquet").equals(pl.read_parquet(tmp_path / "blocks.parquet"))


def test_the_streaming_engines_progress_moves_by_rows_in_bytes_up_to_the_size(runtime, wdbc_csv: Path,
                                                                              tmp_path: Path, monkeypatch) -> None:
    bars = _recording_bar(monkeypatch)
    summary = score_csv(wdbc_csv, tmp_path / "out.csv", runtime=runtime, progress=True)
    assert summary.stages["engine"] == "polars-streaming"
    (bar,) = bars
    size = wdbc_csv.stat().st_size
    # polars reports rows, not bytes: the bar moves by rows x bytes per record, held below the total until the end
    assert bar.total == size and len(bar.positions) >= 2 and bar.positions[-2] < size == bar.positions[-1]


def test_a_stop_is_honoured_between_the_inference_calls_of_one_polars_batch(runtime, wdbc_csv: Path, tmp_path: Path,
                                                                            monkeypatch) -> None:
    # polars hands over batches of many thousand rows: Ctrl-C must not wait for the rest of one (see streaming.py)
    import scoring.streaming

    calls, original = [], runtime.predict

    def one_batch(source, target, layout, outputs, predict, stages, on_rows, output_format="csv"):
        def check() -> None:
            if len(calls) == 2:
                raise scoring.streaming.Stopped

        predict(np.zeros((550, 30), np.float32), check)

    monkeypatch.setattr(runtime, "predict", lambda x: calls.append(len(x)) or original(x))
    monkeypatch.setattr(scoring.streaming, "score_streaming", one_batch)
    with pytest.raises(scoring.streaming.Stopped):
        score_csv(wdbc_csv, tmp_path / "out.csv", runtime=runtime, batch_rows=100)
    assert calls == [100, 100]


def test_a_writer_still_running_after_a_streaming_error_cannot_leave_a_file(runtime, wdbc_csv: Path, tmp_path: Path,
                                                                            monkeypatch) -> None:
    # polars may still be shutting down (and reopen its output by name) after the error has reached us: its
    # output lies in a directory of its own, removed with it, so a late write fails instead of leaving a file.
    import scoring.streaming

    late = []

    def fails_then_writes_late(source, target, *args, **kwargs):
        Path(target).write_text("partial\n")

        def write_again() -> None:
            time.sleep(0.2)
            try:
                Path(target).write_text("late\n")
            except OSError as exc:
                late.append(exc)

        late.append(threading.Thread(target=write_again))
        late[0].start()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(scoring.streaming, "score_streaming", fails_then_writes_late)
    with pytest.raises(Exception, match="No space left on device"):
        score_csv(wdbc_csv, tmp_path / "out.csv", runtime=runtime)
    late[0].join()
    assert isinstance(late[1], FileNotFoundError) and list(tmp_path.iterdir()) == []


# --- processes ----------------------------------------------------------------------------------


def test_onnx_path_never_imports_tensorflow_nor_the_onnx_package(export_dir, wdbc_csv, tmp_path) -> None:
    # `import onnx` is about 1 s of start-up (ml_dtypes): the checks on load read the graph without it
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "from scoring.batch import main\n"
            f"rc = main([{str(wdbc_csv)!r}, {str(tmp_path / 'o.csv')!r}, '--model', {str(export_dir)!r}, '--quiet'])\n"
            "loaded = {m.split('.')[0] for m in sys.modules if sys.modules[m] is not None}\n"
            "assert not loaded & {'tensorflow', 'onnx', 'ml_dtypes'}, loaded & {'tensorflow', 'onnx', 'ml_dtypes'}\n"
            "sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(tmp_path / "o.csv")) == 569


@pytest.mark.slow
def test_stdin_to_stdout_subprocess(export_dir, wdbc_csv, tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "scoring.batch", "-", "-", "--model", str(export_dir), "--quiet"],
                          input=wdbc_csv.read_bytes(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    reference = tmp_path / "ref.csv"
    score_csv(wdbc_csv, reference, model=export_dir)
    assert done.stdout == reference.read_bytes()
    bad = subprocess.run([sys.executable, "-m", "scoring.batch", "-", "-", "--model", str(export_dir)],
                         input=b"id,x\n1,2\n", capture_output=True, text=False, timeout=120)
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr and b"missing 30 feature columns" in bad.stderr


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """400,000 rows: long enough to interrupt at one inference call per row."""
    return _plain_and_gzipped(tmp_path_factory, 400_000)


def _scorer(src: Path, out: Path, runtime_name: str, export_dir: Path, *extra: str) -> list[str]:
    # --batch-rows 1: one inference call per row, so the run lasts long enough to be interrupted.
    return [sys.executable, "-m", "scoring.batch", str(src), str(out), "--runtime", runtime_name,
            "--model", str(export_dir), "--batch-rows", "1", *extra]


def _wait_until_writing(directory: Path, proc: subprocess.Popen | _Pid) -> None:
    from benchmarks.common import wait_until_writing

    wait_until_writing(directory, "out.csv", lambda: proc.poll() is None)


@pytest.mark.slow
@pytest.mark.parametrize("change", ["truncated", "appended"])
def test_an_input_that_changes_while_it_is_read_is_an_error(export_dir, big_inputs, tmp_path, spawn,
                                                             change: str) -> None:
    """The issue's case: a file truncated while the block pipeline read it scored 769,753 rows for a file that then
    held 4,705 bytes, and exited 0."""
    src = tmp_path / "in.csv"
    with open(big_inputs["streaming"], "rb") as whole:  # 20,000 rows: minutes less at one inference call per row
        src.write_bytes(b"".join(whole.readline() for _ in range(20_001)))
    size = src.stat().st_size
    out = tmp_path / "out.csv"
    proc = spawn(_scorer(src, out, "onnx", export_dir, "--quiet", "--on-error", "skip"), stderr=subprocess.PIPE,
                 start_new_session=True)
    _wait_until_writing(tmp_path, proc)
    if change == "truncated":
        os.truncate(src, 4705)
    else:
        with open(src, "ab") as handle:
            handle.write(src.read_bytes()[-1000:])
    err = proc.communicate(timeout=600)[1].decode()
    now = src.stat().st_size
    assert proc.returncode == 2 and re.fullmatch(rf"InputError: {re.escape(str(src))}: changed while it was read: "
                                                 rf"{size:,} bytes when opened, {now:,} now \([\d,]+ read\); score a "
                                                 r"copy that nothing is writing to\n", err), err
    assert sorted(os.listdir(tmp_path)) == ["in.csv"]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["streaming", "blocks"])
def test_sigterm_to_the_process_group_stops_and_removes_the_temporary_file(
        runtime_name: str, export_dir: Path, big_inputs: dict[str, Path], tmp_path: Path, engine: str, spawn) -> None:
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    proc = spawn(_scorer(big_inputs[engine], out, runtime_name, export_dir, "--quiet"), stderr=subprocess.PIPE,
                 start_new_session=True)
    _wait_until_writing(tmp_path, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    says(err.decode().splitlines()[-1], "Interrupted (SIGTERM)", f"{out} was not written", "unchanged")
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_stops_and_removes_the_temporary_file(
        runtime_name: str, export_dir: Path, big_inputs: dict[str, Path], tmp_path: Path) -> None:
    """A real pseudo-terminal: Ctrl-C reaches the foreground process group, with the progress bar on; the bar
    is cleared before the message and not drawn again."""
    out = tmp_path / "out.csv"

    def ctrl_c(pid: int, terminal: int) -> None:
        _wait_until_writing(tmp_path, _Pid(pid))
        os.write(terminal, b"\x03")

    code, text = _in_a_terminal(_scorer(big_inputs["streaming"], out, runtime_name, export_dir), ctrl_c)
    message = f"Interrupted (SIGINT): {out} was not written."
    assert code == 130, text
    assert message in text and "previous" not in text
    assert "Traceback" not in text
    assert "scoring:" in text  # the bar was on
    screen = _screen(text)
    assert screen[-1].endswith(message) and not any("scoring:" in line for line in screen), screen
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["streaming", "blocks"])
def test_a_terminal_shows_bytes_with_a_total_and_an_eta_then_the_closing_line_alone(
        runtime_name: str, export_dir: Path, big_inputs: dict[str, Path], tmp_path: Path, engine: str) -> None:
    out = tmp_path / "out.csv"
    code, text = _in_a_terminal([sys.executable, "-m", "scoring.batch", str(big_inputs[engine]), str(out),
                                 "--runtime", runtime_name, "--model", str(export_dir),
                                 *(["--on-error", "skip", "--rejects", str(tmp_path / "rejects.csv")]
                                   if engine == "blocks" else [])])
    size = tqdm.format_sizeof(big_inputs[engine].stat().st_size, divisor=1024)
    assert code == 0, text
    # e.g. "scoring:  37%|####   | 6.25M/16.9M [00:01<00:02, 5.12MB/s]": bytes of the input, elapsed<remaining
    assert re.search(rf"scoring: +\d+%.*/{re.escape(size)}B? \[\d\d:\d\d<(\d\d:\d\d|\?)", text), text
    screen = _screen(text)
    assert len(screen) == 1 and screen[0].startswith("scored 400,000 rows (") and screen[0].endswith(f"-> {out}"), \
        screen


def _in_a_terminal(command: list[str], then: Callable[[int, int], None] | None = None) -> tuple[int, str]:
    """Run ``command`` in a 24 x 100 pseudo-terminal (its stdin, stdout and stderr) and ``then(pid, terminal)``;
    its exit code and everything it drew."""
    import pty

    pid, terminal = pty.fork()
    if pid == 0:  # the child: the command, with the terminal as stdin, stdout and stderr (a new one has 0 columns)
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        default_sigint()  # as in a terminal, even when the tests run from a background shell
        die_with_parent()
        os.execv(command[0], command)
    screen: list[bytes] = []
    reader = threading.Thread(target=_read_terminal, args=(terminal, screen), daemon=True)
    reader.start()
    status = None
    try:
        if then is not None:
            then(pid, terminal)
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:  # the test failed before the child ended: do not leave it running
            kill_group_or_process(pid)
            os.waitpid(pid, 0)
        reader.join(timeout=60)
        os.close(terminal)
    return os.waitstatus_to_exitcode(status), b"".join(screen).decode(errors="replace")


def _screen(text: str) -> list[str]:
    """The non-empty lines a terminal shows after drawing ``text``: a carriage return moves back to the start
    of the line and what follows overwrites it; trailing spaces are not seen."""
    lines: list[list[str]] = [[]]
    column = 0
    for char in text:
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append([])
            column = 0
        else:
            line = lines[-1]
            line[column:column + 1] = [char] if column < len(line) else [" "] * (column - len(line)) + [char]
            column += 1
    shown = ["".join(line).rstrip() for line in lines]
    return [line for line in shown if line]


class _Pid:
    """The ``poll()`` of a forked child, for ``_wait_until_writing``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def poll(self) -> int | None:
        done, status = os.waitpid(self.pid, os.WNOHANG)
        return os.waitstatus_to_exitcode(status) if done else None


def _read_terminal(fd: int, into: list[bytes]) -> None:
    """Drain the terminal (a full one would block the child) until the child closes it."""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:  # EIO: the child is gone
            return
        if not chunk:
            return
        into.append(chunk)


@pytest.mark.slow
def test_a_killed_run_leaves_a_temporary_file_that_the_next_run_removes(
        runtime_name: str, export_dir: Path, big_inputs: dict[str, Path], wdbc_csv: Path, tmp_path: Path,
        spawn) -> None:
    out = tmp_path / "out.csv"
    proc = spawn(_scorer(big_inputs["blocks"], out, runtime_name, export_dir, "--quiet"))
    _wait_until_writing(tmp_path, proc)
    proc.kill()  # SIGKILL: no clean-up is possible
    proc.wait()
    assert [p.name for p in tmp_path.glob(".out.csv.*.tmp")], "the killed run left no temporary file"
    assert main([str(wdbc_csv), str(out), "--runtime", runtime_name, "--model", str(export_dir), "--quiet"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"] and len(pd.read_csv(out)) == 569


class _SignalOnCall:
    """A runtime that sends this process SIGTERM from inside its ``at``-th inference call."""

    def __init__(self, runtime, at: int) -> None:
        self._runtime, self._at = runtime, at
        self.name, self.path, self.threshold = runtime.name, runtime.path, runtime.threshold
        self.feature_names, self.info = runtime.feature_names, runtime.info
        self.calls = self.rows_after = 0

    def predict(self, features: np.ndarray) -> dict[str, np.ndarray]:
        self.calls += 1
        if self.calls == self._at:
            os.kill(os.getpid(), signal.SIGTERM)
        elif self.calls > self._at:
            self.rows_after += len(features)
        return self._runtime.predict(features)


@pytest.mark.parametrize("engine", ["streaming", "blocks"])
def test_sigterm_stops_within_a_few_inference_calls(runtime, export_dir, big_inputs, tmp_path, capsys, monkeypatch,
                                                    engine: str) -> None:
    """Counted in rows, not timed: before, SIGTERM was honoured only after the streaming engine's last row."""
    import scoring.batch

    src = big_inputs[engine]
    slow = _SignalOnCall(runtime, at=5)
    monkeypatch.setattr(scoring.batch, "load_runtime", lambda ref, threads=1, verify=True: slow)
    code, err = run([src, tmp_path / "out.csv", "--model", export_dir, "--batch-rows", "100"], capsys)
    assert code == 143, err
    assert slow.rows_after < 40_000, slow.rows_after  # of 400,000
    assert list(tmp_path.iterdir()) == []


def test_interrupted_message_says_what_became_of_the_output(tmp_path: Path) -> None:
    from scoring.batch import _identity, interrupted_message
    from scoring.signals import Interrupted

    out = tmp_path / "out.csv"
    stop = Interrupted(signal.SIGINT)
    assert interrupted_message(stop, str(out), None) == f"Interrupted (SIGINT): {out} was not written."
    out.write_text("previous\n")
    before = _identity(str(out))
    assert interrupted_message(stop, str(out), before).endswith("was not written; the previous file is unchanged.")
    replacement = tmp_path / "new"
    replacement.write_text("new\n")
    os.replace(replacement, out)
    assert interrupted_message(stop, str(out), before) == f"Interrupted (SIGINT) after {out} was written."
    assert interrupted_message(stop, "-", None) == "Interrupted (SIGINT): the output on stdout is incomplete."


@pytest.mark.slow
def test_a_very_long_first_row_does_not_make_one_huge_block(export_dir: Path, tmp_path: Path) -> None:
    """Peak RSS of the block pipeline, each run in a fresh process: a 5 MB first row (blocks were sized
    from it: the whole file became one block) costs about what a short one does. ONNX only: TensorFlow's
    own ~750 MiB would drown the difference."""
    from benchmarks.common import run_measured
    from benchmarks.datagen import write_csv

    header, first, rest = write_csv(tmp_path / "gen.csv", 300_000).read_bytes().split(b"\n", 2)
    body = rest.replace(b"\n", b",n\n")  # a note column, short in every other row
    peaks = {}
    for name, note in (("short", b"short"), ("long", b"x" * 5_000_000)):
        src = tmp_path / f"{name}.csv"
        src.write_bytes(header + b",note\n" + first + b"," + note + b"\n" + body)
        code = (f"from scoring.batch import score_csv; s = score_csv({str(src)!r}, {str(tmp_path / 'out.csv')!r}, "
                f"model={str(export_dir)!r}, runtime='onnx', engine='blocks'); assert s.rows == 300_000")
        peaks[name] = run_measured([sys.executable, "-c", code])["peak_rss_mib"]
    # Measured on the 2-core CI machine: 286 and 303 MiB now; 284 and 475 MiB when blocks followed the first row.
    # With both cores busy (a full-suite run beside a mutation run) the gap was 56 MiB (314 and 370), over the
    # old 15% margin: so a margin in MiB, between that and the bug's 191.
    assert peaks["long"] - peaks["short"] < 100, peaks


def _bounded_run(args: list[str], timeout: float = 120) -> dict:
    """``python -m scoring.batch ARGS`` in a fresh process: exit code, stderr, wall seconds and peak RSS (MiB); a run
    over ``timeout`` seconds fails the test (it is killed)."""
    from benchmarks.common import run_measured

    try:
        return run_measured([sys.executable, "-m", "scoring.batch", *map(str, args)], check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s: python -m scoring.batch {' '.join(map(str, args))}")


def _write_gzip(path: Path, head: bytes, filler: bytes, size: int) -> Path:
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(head)
        for _ in range(size // len(filler)):
            handle.write(filler)
    return path


#: Generous bounds for one run of the scorer (ONNX) that must stop early: measured at 0.8 to 2.4 s and 130 to 225 MiB
#: on the 2-core machine at load average 7; without the bounds these ran for minutes or took gigabytes.
_SECONDS, _MIB = 60, 500


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["plain", "gzip-bomb", "dev-zero"])
def test_a_first_line_with_no_end_stops_at_16_mib_in_linear_time(export_dir, tmp_path, kind: str) -> None:
    """The issue's cases: each 64 KiB chunk re-scanned the whole buffer, so a 64 MiB header still ran after a minute;
    a 2 MiB gzip bomb inflating to one 1 GiB line never finished and took memory to its inflated size; /dev/zero as
    input never ended."""
    src = {"plain": tmp_path / "long.csv", "gzip-bomb": tmp_path / "bomb.csv.gz", "dev-zero": Path("/dev/zero")}[kind]
    if kind == "plain":
        src.write_bytes(b"a" * (64 << 20))
    elif kind == "gzip-bomb":
        _write_gzip(src, b"", b"a" * (1 << 20), 1 << 30)
        assert src.stat().st_size < 8 << 20
    run = _bounded_run([src, tmp_path / "out.csv", "--model", export_dir])
    assert run["returncode"] == 2 and run["stderr"] == (
        f"InputError: {src}, line 1: the first line is longer than 16 MiB with no line end; expected a header line "
        "naming the columns (is this a CSV file?)\n")
    assert run["wall"] < _SECONDS and run["peak_rss_mib"] < _MIB, run
    assert sorted(os.listdir(tmp_path)) == ([src.name] if kind != "dev-zero" else [])


@pytest.mark.slow
@pytest.mark.parametrize("compressed", [False, True])
def test_a_data_row_over_the_record_limit_stops_at_its_line_in_bounded_memory(export_dir, wdbc_csv, tmp_path,
                                                                               compressed: bool) -> None:
    """The issue's case: a 256 MiB data row with no line end took over 2 GiB of memory."""
    header = wdbc_csv.read_bytes().split(b"\n", 3)
    head = b"\n".join(header[:3]) + b"\n1,M,"
    if compressed:
        src = _write_gzip(tmp_path / "long.csv.gz", head, b"9" * (1 << 20), 256 << 20)
    else:
        src = tmp_path / "long.csv"
        with open(src, "wb") as handle:
            handle.write(head)
            handle.write(b"9" * (256 << 20))
    run = _bounded_run([src, tmp_path / "out.csv", "--model", export_dir])
    assert run["returncode"] == 2 and run["stderr"].startswith(
        f"InputError: {src}, line 4: a record longer than 67,108,864 bytes starts here and has no end in sight"), run
    assert run["wall"] < _SECONDS and run["peak_rss_mib"] < _MIB, run
    # The limit is an option: a smaller one stops sooner, and a run with shorter records is not affected.
    small = _bounded_run([src, tmp_path / "out.csv", "--model", export_dir, "--max-record-bytes", "1MiB"])
    assert small["returncode"] == 2 and "a record longer than 1,048,576 bytes" in small["stderr"]
    assert _bounded_run([wdbc_csv, tmp_path / "out.csv", "--model", export_dir, "--max-record-bytes", "1KiB"])[
        "returncode"] == 0


@pytest.mark.slow
def test_a_hundred_thousand_columns_with_keep_all_take_seconds_not_minutes(export_dir, wdbc_csv, tmp_path) -> None:
    """The issue's case: 100,000 columns with --keep-all took ~55 s (names.index per kept column: quadratic); 142 s
    here before, 10 s after, at load average 7."""
    rows = wdbc_csv.read_text().splitlines()[:4]
    extra = [f"extra_{i}" for i in range(100_000)]
    src = tmp_path / "wide.csv"
    src.write_text("\n".join([rows[0] + "," + ",".join(extra)] + [r + ",1" * len(extra) for r in rows[1:]]) + "\n")
    run = _bounded_run([src, tmp_path / "out.csv", "--model", export_dir, "--keep-all"], timeout=300)
    assert run["returncode"] == 0, run["stderr"]
    assert run["wall"] < 60, run["wall"]
    assert (tmp_path / "out.csv").read_text().split("\n", 1)[0].endswith("extra_99999,probability,label")


@pytest.mark.slow
def test_one_million_rows_agree_across_runtimes(export_dir: Path, loaded_runtimes, tmp_path: Path) -> None:
    from benchmarks.datagen import write_csv

    src = write_csv(tmp_path / "big.csv", 1_000_000, seed=7)
    outs = {}
    for name, rt in loaded_runtimes.items():
        outs[name] = tmp_path / f"{name}.csv"
        assert score_csv(src, outs[name], runtime=rt).rows == 1_000_000
    a, b = (pl.read_csv(outs[n], schema_overrides={"probability": pl.Float32}) for n in ("onnx", "tf"))
    assert a["id"].equals(b["id"]) and a["id"].to_list()[:3] == [1, 2, 3]
    assert a["label"].equals(b["label"])
    pa, pb = a["probability"].to_numpy(), b["probability"].to_numpy()
    ulps = np.abs(pa.view(np.int32).astype(np.int64) - pb.view(np.int32).astype(np.int64))
    assert ulps.max() <= 1  # the same float64 logit; each runtime's float32 sigmoid may round differently
    assert not np.isnan(pa).any()


# --- properties (hypothesis): the model is loaded once, each example works in its own directory ---------


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".")]


@settings(max_examples=25)
@given(start=st.integers(0, 568), rows=st.integers(0, 150), batch_rows=st.integers(1, 200),
       engine=st.sampled_from(["auto", "blocks"]))
def test_output_bytes_do_not_depend_on_batch_size_or_engine(runtime_name: str, loaded_runtimes, wdbc_csv: Path,
                                                            start: int, rows: int, batch_rows: int, engine: str) -> None:
    runtime = loaded_runtimes[runtime_name]
    lines = wdbc_csv.read_text().splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        src, reference, out = Path(tmp) / "in.csv", Path(tmp) / "reference.csv", Path(tmp) / "out.csv"
        src.write_text("\n".join([lines[0], *lines[1 + start : 1 + start + rows]]) + "\n")
        score_csv(src, reference, runtime=runtime, batch_rows=10**9, engine="blocks")
        score_csv(src, out, runtime=runtime, batch_rows=batch_rows, engine=engine)
        assert out.read_bytes() == reference.read_bytes()
        assert not _leftovers(Path(tmp))


FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=30)
@given(x=arrays(np.float32, st.tuples(st.integers(1, 40), st.just(30)), elements=FLOAT32),
       threshold=st.none() | st.floats(0, 1), batch_rows=st.integers(1, 50))
def test_scores_are_what_the_runtime_gives_for_the_same_matrix(runtime_name: str, loaded_runtimes, x: np.ndarray,
                                                               threshold: float | None, batch_rows: int) -> None:
    """Any finite float32 written as its shortest text (subnormals, 3e38, -0.0) scores bit for bit as the
    runtime scores the matrix itself; --threshold relabels with probability > threshold."""
    runtime = loaded_runtimes[runtime_name]
    want = runtime.predict(x)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        src.write_text("\n".join([",".join(FEATURE_NAMES), *(",".join(map(str, row)) for row in x)]) + "\n")
        score_csv(src, out, runtime=runtime, threshold=threshold, batch_rows=batch_rows)
        scored = pl.read_csv(out, schema={"probability": pl.Float32, "label": pl.Int64})
        assert not _leftovers(Path(tmp))
    np.testing.assert_array_equal(scored["probability"].to_numpy(), want["probability"])
    label = want["label"] if threshold is None else (want["probability"] > np.float32(threshold)).astype(np.int64)
    np.testing.assert_array_equal(scored["label"].to_numpy(), label)


@settings(max_examples=40)
@given(n=st.integers(1, 40), bad=st.sets(st.integers(0, 39)), multiline=st.sets(st.integers(0, 39)),
       header=st.booleans(), batch_rows=st.integers(1, 25), column=st.integers(0, 29),
       value=st.sampled_from(["abc", "", "nan", "-inf", "1.5.5", "1e99"]))
@pytest.mark.slow
def test_rejects_name_the_file_line_of_every_injected_bad_row(
        runtime_name: str, loaded_runtimes, n: int, bad: set[int], multiline: set[int], header: bool, batch_rows: int,
        column: int, value: str) -> None:
    """Bad values injected anywhere, after quoted multi-line fields, with or without a header, in blocks
    of any size: each reject names its record's first file line, and every other row is scored."""
    lines, expected_lines, line = [], [], 2 if header else 1
    for i in range(n):
        features = ["1.5"] * 30
        if i in bad:
            features[column] = value
            expected_lines.append(line)
        note = '"two\nlines"' if i in multiline else "one"
        lines.append(f"{i},{note}," + ",".join(features))
        line += 2 if i in multiline else 1
    if header:
        lines.insert(0, "id,note," + ",".join(FEATURE_NAMES))
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        src.write_text("\n".join(lines) + "\n")
        summary = score_csv(src, out, runtime=loaded_runtimes[runtime_name], header=header, on_error="skip",
                            batch_rows=batch_rows)
        rejects = pl.read_csv(Path(tmp) / "out.csv.rejects.csv", infer_schema=False)
        scored = pl.read_csv(out, infer_schema=False)
        assert not _leftovers(Path(tmp))
    assert [int(r) for r in rejects["line"]] == expected_lines
    assert set(rejects["column"]) <= {FEATURE_NAMES[column] if header else f"column_{column + 3}"}
    kept_ids = scored["id" if header else "column_1"].to_list()
    assert kept_ids == [str(i) for i in range(n) if i not in bad] and summary.rejected == len(expected_lines)


# --- tables people have: other names, separators, trailing commas -------------------------------


def _kaggle_csv(path: Path) -> Path:
    """The widely shared WDBC CSV: its own names ('radius_se', 'concave points_worst') and a trailing comma."""
    from model.wdbc import ALIASES

    frame = load_bundled().rename({n: a[0] for n, a in ALIASES.items() if "_" in a[0] or " " in a[0]})
    path.write_text("".join(line + ",\n" for line in frame.write_csv().splitlines()))
    return path


def _sklearn_csv(path: Path) -> Path:
    """scikit-learn's frame: 'mean radius', 'radius error', 'worst radius', ..., and its 'target' (0 = malignant)."""
    from sklearn.datasets import load_breast_cancer

    load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("layout", ["kaggle", "sklearn"])
@pytest.mark.parametrize("engine", ["auto", "blocks"])
def test_widely_shared_wdbc_layouts_score_with_no_options(runtime, wdbc_csv: Path, tmp_path: Path, layout: str,
                                                          engine: str) -> None:
    src = (_kaggle_csv if layout == "kaggle" else _sklearn_csv)(tmp_path / f"{layout}.csv")
    out, reference = tmp_path / "out.csv", tmp_path / "ref.csv"
    summary = score_csv(src, out, runtime=runtime, engine=engine)
    score_csv(wdbc_csv, reference, runtime=runtime, keep=[])
    scored = pl.read_csv(out)
    want = pl.read_csv(reference)
    assert scored["probability"].equals(want["probability"]) and scored["label"].equals(want["label"])
    if layout == "kaggle":
        assert scored.columns == ["id", "probability", "label"] and summary.stages["engine"] == (
            "polars-streaming" if engine == "auto" else "blocks")  # the trailing comma keeps the fast path
    else:
        assert scored.columns == ["probability", "label"]  # no id column: nothing to pass through


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_separators_are_sniffed_and_output_is_the_same(runtime, wdbc_csv: Path, tmp_path: Path,
                                                       separator: str) -> None:
    src, out, reference = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "ref.csv"
    load_bundled().write_csv(src, separator=separator)
    score_csv(src, out, runtime=runtime, keep=["id", "diagnosis"])
    score_csv(wdbc_csv, reference, runtime=runtime, keep=["id", "diagnosis"])
    assert out.read_bytes() == reference.read_bytes()  # output is always comma-separated


def test_wrong_separator_says_which_one_to_use(export_dir: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "semi.csv"
    load_bundled().write_csv(src, separator=";")
    code, err = run([src, tmp_path / "o.csv", "--model", export_dir, "--sep", ","], capsys)
    assert code == 2 and err.strip().endswith("which contains ';': the file seems to use ';' as separator, not ','. "
                                              "Pass --sep ';'.")
    assert run([src, tmp_path / "o.csv", "--model", export_dir, "--sep", "tab"], capsys)[0] == 2
    assert not (tmp_path / "o.csv").exists()


def test_rename_option_and_rename_file(runtime, wdbc_csv: Path, tmp_path: Path, capsys) -> None:
    frame = load_bundled().rename({"radius_mean": "r", "texture_mean": "t, mean"})
    src = tmp_path / "in.csv"
    frame.write_csv(src)
    reference = tmp_path / "ref.csv"
    score_csv(wdbc_csv, reference, runtime=runtime)
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"t, mean": "texture_mean"}))
    out = tmp_path / "out.csv"
    code, err = run([src, out, "--runtime", runtime.name, "--model", _export_of(runtime), "--rename",
                     "r=radius_mean", "--rename-file", mapping, "--quiet"], capsys)
    assert code == 0, err
    assert out.read_bytes() == reference.read_bytes()
    table = tmp_path / "map.csv"
    table.write_text('old,new\nr,radius_mean\n"t, mean",texture_mean\n')
    assert run([src, out, "--runtime", runtime.name, "--model", _export_of(runtime), "--rename-file", table,
                "--quiet"], capsys)[0] == 0
    assert out.read_bytes() == reference.read_bytes()
    with pytest.raises(SystemExit) as exit_info:  # argparse's own usage error
        run([src, out, "--model", _export_of(runtime), "--rename", "radius_mean"], capsys)
    assert exit_info.value.code == 2
    assert "--rename: expected OLD=NEW pairs separated by commas, got 'radius_mean'" in capsys.readouterr().err


def _export_of(runtime) -> Path:
    return runtime.path.parent  # export/model.onnx or export/saved_model


@pytest.mark.parametrize("engine", ["auto", "blocks"])
def test_label_values_write_the_class_values(runtime, wdbc_csv: Path, tmp_path: Path, engine: str) -> None:
    out = tmp_path / "out.csv"
    score_csv(wdbc_csv, out, runtime=runtime, engine=engine, label_values=True, keep=["id", "diagnosis"])
    scored = pl.read_csv(out)
    assert scored.columns == ["id", "diagnosis", "probability", "label", "predicted_diagnosis"]
    assert scored["predicted_diagnosis"].to_list() == ["M" if v else "B" for v in scored["label"]]
    assert (scored["predicted_diagnosis"] == scored["diagnosis"]).mean() > 0.95


@pytest.mark.parametrize(("label_column", "positive", "negative", "column", "classes"), [
    ("churned", True, False, "predicted_churned", ("false", "true")),  # as a CSV spells a boolean column
    ("diagnosis", "M", "B", "predicted_diagnosis", ("B", "M")),
    (None, 1, 0, "predicted_class", ("0", "1")),
])
def test_label_values_are_spelled_as_the_training_table_wrote_them(label_column, positive, negative, column,
                                                                   classes) -> None:
    from contract.metadata import Metadata
    from scoring.batch import outputs_for
    from scoring.io.output import Outputs

    info = Metadata(feature_names=["x"], threshold=0.5, label_column=label_column, positive_class=positive, negative_class=negative)
    assert outputs_for(info, label_values=True) == Outputs(column, classes)
    assert outputs_for(info, label_values=False) == Outputs()


def test_short_rows_missing_only_a_trailing_empty_column_are_fine(runtime, tmp_path: Path) -> None:
    lines = _kaggle_csv(tmp_path / "k.csv").read_text().splitlines()
    lines[5] = lines[5].rstrip(",")  # one row without the trailing comma
    src = tmp_path / "mixed.csv"
    src.write_text("\n".join(lines) + "\n")
    summaries = [score_csv(src, tmp_path / f"{e}.csv", runtime=runtime, engine=e) for e in ("auto", "blocks")]
    assert [s.rows for s in summaries] == [569, 569]
    assert (tmp_path / "auto.csv").read_bytes() == (tmp_path / "blocks.csv").read_bytes()


@pytest.mark.parametrize("engine", ["streaming", "blocks"])
def test_a_signal_between_creating_the_temporary_and_recording_it_leaves_nothing(
        export_dir: Path, wdbc_csv: Path, tmp_path: Path, monkeypatch, capsys, engine: str) -> None:
    """What a test that signals as soon as the temporary appears once caught: SIGTERM landing inside mkstemp,
    after the file exists but before the writer knows its name."""
    import tempfile

    from scoring.io import output
    from scoring.signals import Interrupted

    def interrupted_after(create):
        def create_then_stop(*args, **kwargs):
            create(*args, **kwargs)
            raise Interrupted(signal.SIGTERM)
        return create_then_stop

    monkeypatch.setattr(output.tempfile, "mkstemp", interrupted_after(tempfile.mkstemp))
    monkeypatch.setattr(output.tempfile, "mkdtemp", interrupted_after(tempfile.mkdtemp))
    source = tmp_path / "in.csv.gz" if engine == "blocks" else tmp_path / "in.csv"
    source.write_bytes(gzip.compress(wdbc_csv.read_bytes()) if engine == "blocks" else wdbc_csv.read_bytes())
    out = tmp_path / "out.csv"
    assert main([str(source), str(out), "--model", str(export_dir)]) == 143
    assert capsys.readouterr().err.splitlines()[-1] == f"Interrupted (SIGTERM): {out} was not written."
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name]


# --- another model family ---------------------------------------------------------------------


def test_an_mlp_export_scores_with_no_new_flag_on_either_runtime(runtime_name, mlp_export_dir, wdbc_csv, tmp_path,
                                                                 capsys) -> None:
    from contract.artifacts import resolve_model
    from scoring.runtimes import load_runtime

    out = tmp_path / "out.csv"
    assert main([str(wdbc_csv), str(out), "--model", str(mlp_export_dir), "--runtime", runtime_name]) == 0
    scored = read_out(out)
    want = expected(load_runtime(resolve_model(mlp_export_dir, runtime_name)), pd.read_csv(wdbc_csv))
    # TensorFlow's float32 matrix product may round a row differently in another batch (docs/export.md).
    np.testing.assert_allclose(scored["probability"].to_numpy(), want["probability"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(scored["label"].to_numpy(), want["label"])
    assert np.mean(scored["label"].to_numpy() == (pd.read_csv(wdbc_csv)["diagnosis"] == "M")) > 0.97


@pytest.mark.parametrize("engine", ["auto", "blocks"])
@pytest.mark.parametrize("batch_rows", [pytest.param(1, marks=pytest.mark.slow), 7, 4096])
def test_an_mlp_on_onnx_writes_the_same_bytes_at_any_batch_size(mlp_export_dir, wdbc_csv, tmp_path, batch_rows: int,
                                                                 engine: str) -> None:
    """onnxruntime sums a row in the same order in any batch, so the float32 MLP keeps chunk invariance there."""
    whole, out = tmp_path / "whole.csv", tmp_path / "out.csv"
    score_csv(wdbc_csv, whole, model=mlp_export_dir, runtime="onnx", batch_rows=10**9, engine="blocks")
    score_csv(wdbc_csv, out, model=mlp_export_dir, runtime="onnx", batch_rows=batch_rows, engine=engine)
    assert out.read_bytes() == whole.read_bytes()
