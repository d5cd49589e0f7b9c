"""Benchmarks run end to end in --quick mode and write well-formed JSON (never a speed threshold)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.common import core_sets

#: Each runs real subprocesses end to end: left out of the fast subset (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow


def test_model_throughput_quick_runs_and_writes_json(export_dir: Path, tmp_path: Path) -> None:
    from benchmarks import model_throughput as bench

    assert bench.main(["--quick", "--model", str(export_dir), "--results-dir", str(tmp_path)]) == 0

    result = json.loads((tmp_path / "model_throughput_quick.json").read_text())
    expected = {"machine", "quick", "batches", "throughput", "latency_us", "startup", "agreement_vs_onnx", "plot"}
    assert expected <= set(result)
    assert result["quick"] is True
    assert (tmp_path / result["plot"]).stat().st_size > 0
    variants = {bench.ORT_1, bench.ORT_2, bench.TF, bench.NP_64, bench.NP_32}
    assert set(result["throughput"]) == set(result["latency_us"]) == variants
    for by_batch in result["throughput"].values():
        assert set(by_batch) == {str(b) for b in result["batches"]}
        for sample in by_batch.values():
            assert sample["calls"] >= 1
            rate = sample["rows_per_second"]
            assert rate["n"] == result["repeats"]
            assert 0 < rate["min"] <= rate["median"] <= rate["max"]
    for lat in result["latency_us"].values():
        assert 0 < lat["p50"] <= lat["p99"]
    assert {"onnx", "tf"} <= set(result["startup"])
    for run in result["startup"].values():
        assert run["wall_seconds"]["median"] > 0 and run["peak_rss_mib"]["median"] > 0
    assert result["agreement_vs_onnx"][bench.NP_64]["label_mismatches"] == 0


def test_training_quick_runs_and_writes_json(tmp_path: Path) -> None:
    from benchmarks import training

    assert training.main(["--quick", "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "training_quick.json").read_text())
    assert {"machine", "epochs", "stats", "speedup"} <= set(result)
    assert set(result["speedup"]) == {"cold", "warm"}
    for stats in result["stats"].values():
        assert 0 < stats["cpu"]["min"] <= stats["cpu"]["median"] <= stats["cpu"]["max"]


def test_own_tables_quick_trains_with_the_defaults_and_writes_json(tmp_path: Path) -> None:
    from benchmarks import own_tables

    assert own_tables.main(["--quick", "--results-dir", str(tmp_path), "--workdir", str(tmp_path / "work")]) == 0
    result = json.loads((tmp_path / "own_tables_quick.json").read_text())
    assert [r["table"] for r in result["tables"]] == ["iris", "wine"]
    for row in result["tables"]:
        assert row["recipe"] == "converge" and row["converged"] and row["relative"] <= result["within"]
        assert row["command"].startswith("python -m model.train --data ")


def test_training_an_mlp_quick_runs_against_the_eager_loop_with_the_same_model(tmp_path: Path) -> None:
    from benchmarks import training

    assert training.main(["--quick", "--model", "mlp", "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "training_mlp_quick.json").read_text())
    assert result["model"] == "mlp 30-32-16-1 relu" and set(result["speedup"]) == {"cold", "warm"}


def test_model_throughput_of_an_mlp_export_has_its_numpy_reference(mlp_export_dir: Path, tmp_path: Path) -> None:
    from benchmarks import model_throughput as bench

    assert bench.main(["--quick", "--model", str(mlp_export_dir), "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "model_throughput_mlp_quick.json").read_text())
    assert result["family"] == "mlp"
    assert set(result["throughput"]) == {bench.ORT_1, bench.ORT_2, bench.TF, bench.NP_MLP}
    assert result["agreement_vs_onnx"][bench.NP_MLP]["label_mismatches"] == 0


def test_mlp_sklearn_quick_runs_and_writes_json(tmp_path: Path) -> None:
    from benchmarks import mlp_sklearn as bench

    assert bench.main(["--quick", "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "mlp_sklearn_quick.json").read_text())
    for table in result["tables"]:
        sklearn = table["stats"][bench.SKLEARN]
        assert sklearn["reached"] == "1 of 1"  # its own final loss is within 1% of itself
        assert sklearn["target"]["median"] == pytest.approx((1 + bench.TOLERANCE) * sklearn["final_train_log_loss"]
                                                            ["median"])


def test_families_quick_trains_both_families_through_the_cli(tmp_path: Path) -> None:
    from benchmarks import families

    assert families.main(["--quick", "--results-dir", str(tmp_path)]) == 0
    (rings,) = json.loads((tmp_path / "families_quick.json").read_text())["tables"]
    assert rings["table"] == "rings"
    assert rings["command"].endswith("--model mlp --seed 22 --out DIR/rings-mlp-22 --quiet")
    assert rings["summary"]["mlp"]["roc_auc"]["median"] >= 0.97 >= 0.65 >= rings["summary"]["logreg"]["roc_auc"]["max"]


def test_training_scale_quick_runs_and_writes_json(tmp_path: Path) -> None:
    from benchmarks import training_scale as bench

    assert bench.main(["--quick", "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "training_scale_quick.json").read_text())
    assert {"machine", "rows", "features", "target_log_loss", "stats", "ratios", "load_average_1_5_15min"} <= set(result)
    assert set(result["stats"]) == {*bench.QUICK_OURS, bench.SKLEARN_FULL, bench.SKLEARN_STOPPED}
    assert result["target_log_loss"] == (1 + bench.TOLERANCE) * result["sklearn_final_log_loss"]
    for name in (bench.SKLEARN_FULL, bench.SKLEARN_STOPPED):  # both end within 1% by construction
        assert result["stats"][name]["runs_reaching_target"] == result["repeats"]
    for name in bench.QUICK_OURS:
        stats = result["stats"][name]
        assert stats["trace_count"] == 1 and stats["rows_per_second"]["median"] > 0
        assert len(result["runs"][name][0]["train_log_loss"]) == stats["epochs"]
    for stats in result["stats"].values():
        assert 0 < stats["rss_after_setup_mib"]["median"] <= stats["peak_rss_mib"]["median"]


def test_scoring_quick_runs_and_writes_json(export_dir: Path, mlp_export_dir: Path, tmp_path: Path) -> None:
    from benchmarks import scoring

    workdir = tmp_path / "not" / "yet"  # created, as mkdir -p would
    assert scoring.main(["--quick", "--model", str(export_dir), "--results-dir", str(tmp_path),
                         "--workdir", str(workdir), "--second-model", str(mlp_export_dir)]) == 0
    assert workdir.is_dir() and not any(workdir.iterdir())  # its temporary files are gone
    result = json.loads((tmp_path / "scoring_two_models_quick.json").read_text())
    assert set(result["stats"]) == {*scoring.VARIANTS, *scoring.SECOND_VARIANTS}
    assert result["second_model"] == str(mlp_export_dir) and result["ratios"]["onnx_second_vs_ceiling"] > 0
    assert len(result["machine"]["load_average_1_5_15min"]) == 3
    for stats in result["stats"].values():
        assert stats["rows_per_second"]["median"] > 0 and stats["peak_rss_mib"]["median"] > 0
    assert {"onnx_vs_ceiling", "tf_vs_ceiling", "onnx_vs_naive"} <= set(result["ratios"])
    assert result["stats"]["ours-onnx-blocks"]["stages"]["engine"] == "blocks"


def test_scaling_quick_runs_and_writes_json(export_dir: Path, tmp_path: Path) -> None:
    from benchmarks import scaling

    assert scaling.main(["--quick", "--model", str(export_dir), "--results-dir", str(tmp_path),
                         "--workdir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "scaling_quick.json").read_text())
    assert result["sizes"] == [10_000, 50_000]
    assert set(result["flatness"]) == set(scaling.VARIANTS)


def test_distributed_quick_runs_and_writes_json(export_dir: Path, tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("distributed")
    from benchmarks import distributed as bench

    assert bench.main(["--quick", "--model", str(export_dir), "--results-dir", str(tmp_path),
                       "--workdir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "distributed_quick.json").read_text())
    assert {"overhead_1_worker", "speedup_2_workers_vs_single"} == set(result["ratios"])
    assert len(result["stats"]) == 3


def test_parity_counts_ulps_and_writes_json(export_dir: Path, tmp_path: Path) -> None:
    import numpy as np

    from benchmarks import parity

    a = np.array([1.0, -1.0, 0.0, -0.0, 1e-45], np.float32)
    b = np.array([np.nextafter(np.float32(1.0), np.float32(2)), -1.0, -0.0, np.float32(-1e-45), 0.0], np.float32)
    assert parity.ulp_distance(a, b).tolist() == [1, 0, 0, 1, 1]
    assert parity.main(["--quick", "--model", str(export_dir), "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "parity_quick.json").read_text())
    assert result["rows"] == 20_000 and result["label"]["rows_differing"] == 0
    assert result["logit"]["rows_equal"] + result["logit"]["rows_differing"] == 20_000


def test_distributed_scaling_quick_runs_and_writes_json(export_dir: Path, tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("distributed")
    from benchmarks import distributed_scaling as bench

    assert bench.main(["--quick", "--model", str(export_dir), "--results-dir", str(tmp_path),
                       "--workdir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "distributed_scaling_quick.json").read_text())
    analysis = result["analysis"]
    assert set(analysis["per_block"]) == {"1"} and set(analysis["speedup_2_vs_1"]) == {"1"}
    block = analysis["per_block"]["1"]
    assert block["blocks"] >= 2
    assert set(block["fractions"]) == {"stage", "score", "publish", "scheduling"}
    assert all(f["n"] == 1 for f in block["fractions"].values()) and block["overhead_fraction"]["n"] == 1
    assert set(analysis["projection"]["workers"]) == {"1", "8", "32", "128"}
    assert analysis["parallel_capacity_of_2_cores"]["median"] > 0 and analysis["scheduler_tasks_per_second"] > 0
    assert set(analysis["speedup_2_vs_1_per_core_given"]) == {"1"}
    assert {"cpu", "cores"} <= set(result["machine"])


def test_signals_quick_runs_and_writes_json(export_dir: Path, tmp_path: Path) -> None:
    from benchmarks import signals

    assert signals.main(["--quick", "--rows", "50000", "--model", str(export_dir), "--results-dir", str(tmp_path),
                         "--workdir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "signals_quick.json").read_text())
    assert set(result["summary"]) == {f"onnx {e} {s}" for e in ("streaming", "blocks") for s in ("SIGINT", "SIGTERM")}
    for key, summary in result["summary"].items():
        assert summary["exit_codes"] == [130 if key.endswith("SIGINT") else 143]
        assert summary["left_behind"] == []


def test_cores_quick_runs_and_writes_json(export_dir: Path, tmp_path: Path) -> None:
    from benchmarks import cores

    assert cores.main(["--quick", "--model", str(export_dir), "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "cores_quick.json").read_text())
    assert {"machine", "rows", "cores", "processes", "timed", "stages", "load_average_1_5_15min"} <= set(result)
    assert "1" in result["processes"] and set(result["processes"]) == set(result["timed"]) == set(result["cores"])
    for by_cores in result["processes"].values():
        assert set(by_cores["ratio_to_ceiling"]) == {"onnx", "blocks (stdin, --on-error skip)"}
        assert all(r["median"] > 0 for r in by_cores["ratio_to_ceiling"].values())
    for by_cores in result["timed"].values():
        assert set(by_cores["ratio_to_ceiling"]) == {"ours-onnx", "ours-onnx-blocks"}
        assert all(s["setup_seconds"]["median"] > 0 for s in by_cores["stats"].values())
    assert set(result["stages"]) == set(cores.STAGES)
    for stage in result["stages"].values():
        assert set(stage["rows_per_second"]) == set(result["cores"])
        assert 0 <= stage["gil_share"]["median"] <= 1


def test_alternatives_quick_scores_like_the_scorer_and_writes_json(export_dir: Path, tmp_path: Path) -> None:
    from benchmarks import alternatives

    assert alternatives.main(["--quick", "--model", str(export_dir), "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "alternatives_quick.json").read_text())
    assert set(result["by_cores"]) == {str(n) for n in core_sets()}
    for part in result["by_cores"].values():
        others = set(alternatives.SCRIPTS) | {alternatives.CEILING}
        assert set(part["ours_speedup"]) == set(part["memory_vs_ours"]) == others
        assert all(s["median"] > 0 for s in part["ours_speedup"].values())
        # The comparison is fair only if the scripts score what the scorer scores, row for row.
        for agree in part["agreement"].values():
            assert agree["rows"] == 20_000 and agree["same_ids"] and agree["label_mismatches"] == 0
            assert agree["probability_max_abs_diff"] == 0
        assert part["agreement"]["polars + onnxruntime script"]["same_bytes"]


def test_tf_startup_quick_runs_and_writes_json(export_dir: Path, tmp_path: Path) -> None:
    from benchmarks import tf_startup

    assert tf_startup.main(["--quick", "--model", str(export_dir), "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "tf_startup_quick.json").read_text())
    assert set(result["stats"]) == {"full", "lean"}
    for stats in result["stats"].values():
        assert all(stats[k]["median"] > 0 for k in ("import", "load", "first_call", "process", "cpu"))
    assert result["stats"]["lean"]["modules"]["median"] < result["stats"]["full"]["modules"]["median"]


def test_parquet_quick_runs_and_writes_json(export_dir: Path, tmp_path: Path) -> None:
    from benchmarks import parquet

    assert parquet.main(["--quick", "--model", str(export_dir), "--results-dir", str(tmp_path),
                         "--workdir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "parquet_quick.json").read_text())
    assert set(result["stats"]) == {*parquet.PARQUET_VARIANTS, *parquet.CSV_VARIANTS}
    assert result["parquet_bytes"] < result["csv_bytes"]
    assert all(s["rows_per_second"]["median"] > 0 for s in result["stats"].values())
    assert result["stats"]["parquet-ours-onnx"]["stages"]["engine"] == "blocks"
    assert result["stats"]["csv-to-parquet-ours-onnx"]["stages"]["engine"] == "polars-streaming"
    assert 0 < result["ratios"]["parquet_onnx_vs_ceiling"]


def test_serving_quick_runs_and_writes_json(export_dir: Path, tmp_path: Path) -> None:
    from benchmarks import serving

    assert serving.main(["--quick", "--model", str(export_dir), "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "serving_quick.json").read_text())
    assert {"machine", "settings", "results", "ratios", "load_average_1_5_15min"} <= set(result)
    assert set(result["results"]) == {"1", "100"}
    for cells in result["results"].values():
        assert {c["variant"] for c in cells.values()} == {*serving.HTTP_VARIANTS, serving.IN_PROCESS}
        assert {c["concurrency"] for c in cells.values()} == {1, 8}
        for cell in cells.values():
            assert cell["requests"] > 0 and cell["requests_per_second"] > 0 and 0 < cell["p50_ms"] <= cell["p99_ms"]
    assert len(result["ratios"]) == 4 and all(v > 0 for v in result["ratios"].values())


def test_mlp_precision_quick_runs_and_writes_json(tmp_path: Path) -> None:
    from benchmarks import mlp_precision as bench

    assert bench.main(["--quick", "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "mlp_precision_quick.json").read_text())
    (parity,) = result["parity"]
    assert set(parity["worst"]) == set(bench.KINDS)
    assert parity["worst"]["onnx-vs-onnx-whole"]["probability"] == 0  # the ONNX scorer's byte-identity rests on it
    graphs = result["precision_cost"]["graphs"]
    assert set(graphs) == {"float32 (the export)", "float64 variant"}
    assert all(g["onnx_rows_per_second_1_thread"]["median"] > 0 for g in graphs.values())
