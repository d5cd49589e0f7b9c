"""Tests for scoring.streaming: what makes the fast path decline, fail, or stop."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from benchmarks.datagen import write_csv
from model.wdbc import FEATURE_NAMES
from scoring.io.layout import resolve_layout
from scoring.io.output import Outputs
from scoring.signals import Interrupted, stop_on_signals
from scoring.streaming import Declined, eligible, score_streaming
from scoring.timing import Stages


@pytest.fixture(scope="module")
def generated_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("gen") / "gen.csv", 100_000)


def _layout(src: Path):
    return resolve_layout(src.read_text().split("\n", 1)[0].split(","), list(FEATURE_NAMES), str(src))


def _constant(x: np.ndarray, check) -> tuple[np.ndarray, np.ndarray]:
    check()
    return np.full(len(x), 0.25, np.float32), np.zeros(len(x), np.int64)


def test_a_doubtful_value_declines(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id," + ",".join(FEATURE_NAMES) + "\n1," + ",".join(["1.5"] * 29) + ",\n")
    with pytest.raises(Declined):
        score_streaming(str(src), tmp_path / "out.csv", _layout(src), Outputs(), _constant, Stages(),
                        lambda r, p: None)


def test_a_full_disk_is_raised_not_declined(generated_csv: Path, small_filesystem: Path) -> None:
    """A write error says nothing about the input: re-running on the block pipeline would only fail again."""
    with pytest.raises(OSError, match="No space left on device"):
        score_streaming(str(generated_csv), small_filesystem / "out.csv", _layout(generated_csv), Outputs(), _constant,
                        Stages(), lambda r, p: None)
    (small_filesystem / "out.csv").unlink()


def test_a_signal_stops_the_query_and_nothing_scores_after_return(generated_csv: Path, tmp_path: Path) -> None:
    calls: list[tuple[float, int]] = []

    def predict(x: np.ndarray, check) -> tuple[np.ndarray, np.ndarray]:
        for i in range(0, len(x), 10):  # many small inference calls, as --batch-rows 10 makes
            check()
            signalled = len(calls) == 5
            if signalled:
                os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2 if signalled else 0.0001)  # a slow call: polars may return while it runs
            calls.append((time.monotonic(), 10))
        return np.zeros(len(x), np.float32), np.zeros(len(x), np.int64)

    with stop_on_signals(), pytest.raises(Interrupted) as caught:
        score_streaming(str(generated_csv), tmp_path / "out.csv", _layout(generated_csv), Outputs(), predict, Stages(),
                        lambda r, p: None)
    returned, count = time.monotonic(), len(calls)
    assert caught.value.exit_code == 143
    assert sum(rows for _, rows in calls) < 20_000  # of 100,000: it stopped, it did not run to the end
    threading.Event().wait(0.3)
    assert len(calls) == count and all(t <= returned for t, _ in calls)  # no morsel still in the model


def _recording(sizes: list[int]):
    lock = threading.Lock()

    def predict(x: np.ndarray, check) -> tuple[np.ndarray, np.ndarray]:
        check()
        with lock:  # polars calls from several threads
            sizes.append(len(x))
        return np.full(len(x), 0.75, np.float32), np.ones(len(x), np.int64)

    return predict


def test_a_file_is_scored_morsel_by_morsel_timed_as_convert_and_infer(generated_csv: Path, tmp_path: Path) -> None:
    """Bounded memory: the model sees pieces of the file, never all of it; the benchmarks read these stages."""
    sizes: list[int] = []
    stages, counted = Stages(), []
    score_streaming(str(generated_csv), tmp_path / "out.csv", _layout(generated_csv), Outputs(), _recording(sizes),
                    stages, lambda rows, positives: counted.append((rows, positives)), "csv")
    assert sum(sizes) == 100_000 and len(sizes) > 1 and max(sizes) < 100_000
    assert sorted(stages.seconds) == ["convert", "infer"]
    assert sum(r for r, _ in counted) == sum(p for _, p in counted) == 100_000
    out = pl.read_csv(tmp_path / "out.csv")
    assert out.columns == ["id", "probability", "label"] and out.height == 100_000
    assert out["id"].to_list() == pl.read_csv(generated_csv, columns=["id"])["id"].to_list()


def test_parquet_output_is_parquet(generated_csv: Path, tmp_path: Path) -> None:
    score_streaming(str(generated_csv), tmp_path / "out.parquet", _layout(generated_csv), Outputs(), _constant,
                    Stages(), lambda r, p: None, "parquet")
    out = pl.read_parquet(tmp_path / "out.parquet")
    assert out.height == 100_000 and out["probability"].dtype == pl.Float32 and set(out["probability"]) == {0.25}


def test_a_semicolon_file_streams_with_its_separator(generated_csv: Path, tmp_path: Path) -> None:
    """Not declined (which the exact path would hide by scoring it anyway): the scan splits on ';'."""
    src = tmp_path / "semicolon.csv"
    src.write_text(generated_csv.read_text().replace(",", ";"))
    header = src.read_text().split("\n", 1)[0].split(";")
    layout = resolve_layout(header, list(FEATURE_NAMES), str(src), separator=";")
    score_streaming(str(src), tmp_path / "out.csv", layout, Outputs(), _constant, Stages(), lambda r, p: None, "csv")
    assert pl.read_csv(tmp_path / "out.csv")["id"].to_list() == pl.read_csv(generated_csv)["id"].to_list()


def test_a_signal_that_lands_on_a_worker_thread_stops_the_query_within_a_moment(generated_csv: Path,
                                                                                tmp_path: Path) -> None:
    """SIGTERM to the process group may be delivered to any thread: one of polars' or the model's does not wake
    the waiting main thread, which must look for the handler's exception often (every 50 ms), not at the end."""
    rows: list[int] = []

    def predict(x: np.ndarray, check) -> tuple[np.ndarray, np.ndarray]:
        for _ in range(0, len(x), 10):
            check()
            if len(rows) == 5:
                signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # this thread is one of polars'
            time.sleep(0.001)
            rows.append(10)
        return np.zeros(len(x), np.float32), np.zeros(len(x), np.int64)

    started = time.monotonic()
    with stop_on_signals(), pytest.raises(Interrupted) as caught:
        score_streaming(str(generated_csv), tmp_path / "out.csv", _layout(generated_csv), Outputs(), predict, Stages(),
                        lambda r, p: None, "csv")
    assert caught.value.exit_code == 143
    assert sum(rows) < 20_000, f"{sum(rows)} rows scored after the signal, in {time.monotonic() - started:.1f} s"


@pytest.mark.parametrize(("source", "output", "header", "on_error", "expected"), [
    ("in.csv", "out.csv", True, "stop", True),
    ("in.csv", "out.parquet", True, "stop", True),
    # compressed ends: the block pipeline decompresses as it reads, and compresses through the atomic writer
    ("in.csv.gz", "out.csv", True, "stop", False),
    ("IN.CSV.GZ", "out.csv", True, "stop", False),
    ("in.csv.BZ2", "out.csv", True, "stop", False),
    ("in.csv", "out.csv.Gz", True, "stop", False),
    ("-", "out.csv", True, "stop", False),
    ("in.csv", "-", True, "stop", False),
    ("in.csv", "out.csv", False, "stop", False),  # headerless: the block pipeline's positional matching
    ("in.csv", "out.csv", True, "skip", False),  # rejects need the exact path
    ("missing.csv", "out.csv", True, "stop", False),
    ("a_directory", "out.csv", True, "stop", False),
])
def test_eligible_only_for_plain_files_with_a_header_stopping_at_the_first_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, output: str, header: bool, on_error: str,
        expected: bool) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("in.csv", "in.csv.gz", "IN.CSV.GZ", "in.csv.BZ2"):
        Path(name).write_text("id\n")
    Path("a_directory").mkdir()
    assert eligible(source, output, header, on_error) is expected


def test_label_values_stream_as_a_string_column_after_the_label(generated_csv: Path, tmp_path: Path) -> None:
    """--label-values on the streaming path: the declared schema has the class column (or polars refuses every
    morsel and the run silently falls back to the slower exact path)."""
    def alternating(x: np.ndarray, check) -> tuple[np.ndarray, np.ndarray]:
        label = np.arange(len(x)) % 2
        return label.astype(np.float32), label

    outputs = Outputs(class_column="predicted_diagnosis", classes=("B", "M"))
    score_streaming(str(generated_csv), tmp_path / "out.csv", _layout(generated_csv), outputs, alternating, Stages(),
                    lambda r, p: None, "csv")
    out = pl.read_csv(tmp_path / "out.csv")
    assert out.columns == ["id", "probability", "label", "predicted_diagnosis"]
    assert out["predicted_diagnosis"].to_list() == ["B" if label == 0 else "M" for label in out["label"]]
    assert out["predicted_diagnosis"].n_unique() == 2


# --- only named reasons decline; anything else is raised -----------------------------------------------------

_FEATURES = ",".join(["1.5"] * 30)
_HEADER = "id," + ",".join(FEATURE_NAMES)


@pytest.mark.parametrize(("rows", "reason"), [
    (["1," + ",".join(["1.5"] * 29) + ","], "doubt"),  # an empty value
    (["1," + ",".join(["1.5"] * 29) + ",nan"], "doubt"),
    (["1," + _FEATURES, "", "2," + _FEATURES], "doubt"),  # a blank line
    (["1," + _FEATURES, "2,1.5,1.5"], "doubt"),  # a short row
    (["1," + _FEATURES, "2,x," + ",".join(["1.5"] * 29)], "parse"),  # not a number
    (["1," + _FEATURES, "2," + _FEATURES + ",9"], "parse"),  # more fields than the header
    (["1," + _FEATURES, '"2,' + _FEATURES, "3," + _FEATURES], "parse"),  # a quote that runs on
    (["1," + _FEATURES, '2,"1,5",' + ",".join(["1.5"] * 29)], "parse"),  # a quoted decimal comma
    (["1," + _FEATURES, "\udcff\udcfe," + _FEATURES], "parse"),  # bytes that are not UTF-8
])
def test_each_named_reason_declines_and_says_which(tmp_path: Path, rows: list[str], reason: str) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes("\n".join([_HEADER, *rows, ""]).encode("utf-8", "surrogateescape"))
    layout = resolve_layout(_HEADER.split(","), list(FEATURE_NAMES), str(src))
    with pytest.raises(Declined) as declined:
        score_streaming(str(src), tmp_path / "out.csv", layout, Outputs(), _constant, Stages(), lambda r, p: None)
    assert declined.value.reason.split(":")[0] == reason


@pytest.mark.parametrize("output_format", ["csv", "parquet"])
@pytest.mark.parametrize("planted", [TypeError("planted"), AttributeError(), KeyError("k"),
                                     pl.exceptions.InvalidOperationError("planted"),
                                     pl.exceptions.ComputeError("could not parse `x` as dtype `f32`: planted")])
def test_a_bug_inside_the_callback_is_raised_as_it_is(generated_csv: Path, tmp_path: Path, planted: Exception,
                                                      output_format: str) -> None:
    """Not turned into a decline (and a silent re-run on the block pipeline), even when it reads like a parse
    error: polars re-raises what our callback raised, and that is never the input's fault."""
    calls: list[int] = []

    def predict(x: np.ndarray, check) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(x))
        if len(calls) > 2:  # not the first morsel
            raise planted
        return _constant(x, check)

    with pytest.raises(type(planted)) as caught:
        score_streaming(str(generated_csv), tmp_path / f"out.{output_format}", _layout(generated_csv), Outputs(),
                        predict, Stages(), lambda r, p: None, output_format)
    assert caught.value is planted and not isinstance(caught.value, Declined)


def test_a_schema_polars_refuses_is_raised_not_declined(generated_csv: Path, tmp_path: Path) -> None:
    """Our output does not match the declared schema: polars' own ComputeError, not a parse error."""
    class Misdeclared(Outputs):
        def schema(self, layout):
            return {**super().schema(layout), "probability": pl.Int8}

    with pytest.raises(pl.exceptions.ComputeError) as caught:
        score_streaming(str(generated_csv), tmp_path / "out.csv", _layout(generated_csv), Misdeclared(), _constant,
                        Stages(), lambda r, p: None)
    assert not isinstance(caught.value, Declined)
