"""Re-run the independent audit: apply each hand-written bug (NN.patch) to a copy of the tree and run its tests."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent))
from run import build_artifacts, copy_tree  # noqa: E402 (tests/mutation/run.py)

#: The test files that guard each patched module: its mirror, and for modules without one the tests that use it.
TESTS = {
    "model/metrics.py": ["tests/test_metrics.py"],
    "model/selection.py": ["tests/test_selection.py"],
    "model/fit.py": ["tests/test_fit.py"],
    "model/optimizers.py": ["tests/test_optimizers.py", "tests/test_fit.py"],
    "model/data.py": ["tests/test_data.py", "tests/test_data_cli.py"],
    "export/metadata.py": ["tests/test_export_pipeline.py"],
    "export/validate.py": ["tests/test_validate.py"],
    "scoring/io/layout.py": ["tests/test_layout.py"],
    "scoring/io/blocks.py": ["tests/test_blocks.py"],
    "scoring/io/parsing.py": ["tests/test_parsing.py", "tests/test_batch.py"],
    "scoring/streaming.py": ["tests/test_streaming.py", "tests/test_batch.py"],
    "scoring/batch.py": ["tests/test_batch.py"],
    "scoring/io/output.py": ["tests/test_output.py"],
    "scoring/distributed/store.py": ["tests/test_distributed_store.py"],
    "scoring/distributed/job.py": ["tests/test_distributed.py"],
}


def patched_module(patch: Path) -> str:
    return next(line[6:].strip() for line in patch.read_text().splitlines() if line.startswith("+++ b/"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "independent", help="where the copy goes")
    parser.add_argument("patches", nargs="*", type=Path, help="default: every NN.patch beside this script")
    args = parser.parse_args(argv)
    patches = args.patches or sorted(HERE.glob("*.patch"))
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    copy_tree(args.work)
    env = {**os.environ, "PYTHONPATH": str(args.work)}
    artifacts = build_artifacts(args.work, env)  # scoring bugs reuse them; model/export bugs train for themselves
    # The copy may lie inside this repository (build/ is ignored): without the ceiling, git apply would take the
    # repository's root as the patch's base and silently skip paths outside the copy.
    git = {**os.environ, "GIT_CEILING_DIRECTORIES": str(args.work.resolve().parent)}
    killed = 0
    for patch in patches:
        module = patched_module(patch)
        subprocess.run(["git", "apply", str(patch.resolve())], cwd=args.work, env=git, check=True)
        run_env = {**env, "WDBC_MUTATION_ARTIFACTS": str(artifacts)} if module.startswith("scoring/") else env
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS[module]],
                              cwd=args.work, env=run_env, capture_output=True, text=True)
        subprocess.run(["git", "apply", "-R", str(patch.resolve())], cwd=args.work, env=git, check=True)
        failed = [line.split(" ", 1)[1].split(" - ")[0] for line in done.stdout.splitlines()
                  if line.startswith(("FAILED ", "ERROR "))]
        killed += done.returncode != 0
        print(f"{patch.stem} {module}: {'killed by ' + failed[0] if failed else 'SURVIVED'} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"{killed} of {len(patches)} killed ({100 * killed / len(patches):.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
