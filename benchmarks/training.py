"""Training speed: the tutorial's eager loop vs. our compiled loop, same data and hyperparameters, per model family."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from benchmarks.common import (
    RESULTS,
    benchmark_parser,
    interleaved,
    machine_info,
    machine_line,
    markdown_table,
    summarize,
    write_result,
)
from model.families import FAMILIES


def run(epochs: int, repeats: int, family: str = "logreg") -> dict:
    # TensorFlow loads here, not at import: --help answers without it.
    from benchmarks.tutorial import eager_mlp_train, tutorial_train
    from model.classifier import Classifier
    from model.data import load_dataset, split
    from model.families import ModelSpec
    from model.fit import CompiledTrainer, FitConfig, fit_classifier

    rows = split(load_dataset())
    args = (rows.x_train, rows.y_train, rows.x_test, rows.y_test)
    config = FitConfig(epochs=epochs)
    spec = ModelSpec.of(family)
    warm = CompiledTrainer(Classifier(rows.x_train.shape[1], spec=spec), config)
    # The tutorial's loop as written for its model; for another family the same loop with that model in it.
    eager = tutorial_train if family == "logreg" else partial(eager_mlp_train, hidden=spec.hidden,
                                                              activation=spec.activation)
    variants = {
        # Cold: a new Classifier and trainer, so the one trace and graph instantiation are timed.
        "compiled, cold (ours)": lambda: fit_classifier(*args, config, spec),
        # Warm: the traced graph is reused (as in CV, where one trace serves every fold); fit() still
        # resets the weights and refits the normalization, so each run is a whole training run.
        "compiled, warm (ours)": lambda: warm.fit(*args),
        "tutorial eager loop": lambda: eager(*args, epochs=epochs),
    }
    for run_once in variants.values():  # warm-up: imports, kernels, first tf.data pipeline
        run_once()
    runs = interleaved(variants, repeats)
    stats = {name: {k: summarize([r[k] for r in samples]) for k in ("cpu", "wall")} for name, samples in runs.items()}
    eager = stats["tutorial eager loop"]
    ratio = {
        kind: {k: eager[k]["median"] / stats[f"compiled, {kind} (ours)"][k]["median"] for k in ("cpu", "wall")}
        for kind in ("cold", "warm")
    }
    return {"model": spec.describe(rows.x_train.shape[1]), "epochs": epochs, "repeats": repeats, "stats": stats,
            "speedup": ratio}


def table(result: dict) -> str:
    rows = []
    for name, s in result["stats"].items():
        rows.append([name, f"{s['cpu']['median']:.3f}", f"{s['cpu']['min']:.3f}-{s['cpu']['max']:.3f}",
                     f"{s['wall']['median']:.3f}"])
    return markdown_table(["training run", "CPU s (median)", "CPU s (min-max)", "wall s (median)"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.training", __doc__)
    parser.add_argument("--quick", action="store_true", help="20 epochs, 2 repeats (smoke test)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of every variant")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--model", dest="family", choices=FAMILIES, default=FAMILIES[0],
                        help="model family, with its default shape (default: %(default)s)")
    args = parser.parse_args(argv)
    epochs, repeats = (20, 2) if args.quick else (200, args.repeats)
    result = run(epochs, repeats, args.family)
    info = machine_info()
    print(f"Training {result['model']}, {epochs} epochs, batch 64, lr 0.01; median of {repeats} interleaved runs on "
          f"{machine_line(info)}\n")
    print(table(result))
    for kind, r in result["speedup"].items():
        print(f"\nSpeed-up of the compiled loop ({kind}): {r['cpu']:.1f}x CPU time, {r['wall']:.1f}x wall time.", end="")
    print("\nRatio = tutorial median / ours median; cold includes the one-off trace and graph set-up.")
    name = "training" if args.family == FAMILIES[0] else f"training_{args.family}"
    path = write_result(f"{name}_quick" if args.quick else name, result, args.results_dir)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
