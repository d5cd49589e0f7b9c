"""How exactly do TensorFlow and onnxruntime agree? Counts (not seconds) on many generated rows.

``python -m benchmarks.parity [--rows 2000000] [--model artifacts/export]``: both runtimes score the same
float32 rows; per output, how many rows differ and by how many float32 ulps. The README's parity
sentence quotes the JSON this writes (benchmarks/results/parity.json).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, benchmark_parser, machine_line, write_result
from benchmarks.datagen import make_frame


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Float32 ulps between ``a`` and ``b`` (0 where bitwise equal), via the ordered integer view."""
    def ordered(x: np.ndarray) -> np.ndarray:
        bits = np.ascontiguousarray(x, np.float32).view(np.int32).astype(np.int64)
        return np.where(bits < 0, np.int64(-(2**31)) - bits, bits)

    return np.abs(ordered(a) - ordered(b))


def compare(rows: int, model: Path, batch: int = 65_536) -> dict[str, object]:
    from contract.artifacts import resolve_model
    from contract.metadata import OUTPUT_NAMES
    from scoring.runtimes import load_runtime

    x = np.ascontiguousarray(make_frame(rows, seed=11).drop("id").to_numpy(), np.float32)
    outputs = {}
    for name in ("onnx", "tf"):
        runtime = load_runtime(resolve_model(model, name))
        parts = [runtime.predict(x[i : i + batch], OUTPUT_NAMES) for i in range(0, rows, batch)]
        outputs[name] = {k: np.concatenate([p[k] for p in parts]) for k in OUTPUT_NAMES}
    from contract.verify import read_metadata

    result: dict[str, object] = {"family": read_metadata(resolve_model(model, "onnx")).family, "rows": rows,
                                 "batch": batch}
    for key in ("probability", "logit"):
        ulps = ulp_distance(outputs["onnx"][key], outputs["tf"][key])
        result[key] = {"rows_equal": int((ulps == 0).sum()), "rows_differing": int((ulps > 0).sum()),
                       "max_ulps": int(ulps.max()),
                       "max_abs_diff": float(np.max(np.abs(outputs["onnx"][key].astype(np.float64)
                                                           - outputs["tf"][key])))}
    result["label"] = {"rows_differing": int((outputs["onnx"]["label"] != outputs["tf"]["label"]).sum())}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.parity", __doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="generated rows (default: %(default)s)")
    parser.add_argument("--model", type=Path, default=Path("artifacts/export"), help="export directory (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="20,000 rows; writes parity_quick.json")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes (default: %(default)s)")
    args = parser.parse_args(argv)
    result = compare(20_000 if args.quick else args.rows, args.model)
    name = "parity" if result["family"] == "logreg" else f"parity_{result['family']}"
    path = write_result(f"{name}_quick" if args.quick else name, result, args.results_dir)
    print(machine_line())
    for key in ("probability", "logit"):
        r = result[key]
        print(f"{key}: {r['rows_equal']:,} of {result['rows']:,} rows equal (0 ulp), {r['rows_differing']:,} "
              f"differ (at most {r['max_ulps']} ulp, {r['max_abs_diff']:.3g})")
    print(f"label: {result['label']['rows_differing']:,} rows differ -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
