"""Mutation-test the core modules with mutmut and print the score per module (not part of CI: it takes a while)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The modules under test, grouped as tests/mutation/RESULTS.md reports them; [tool.mutmut] in pyproject.toml
#: names the same files (only_mutate) and the fast tests that may kill their mutants.
GROUPS: dict[str, tuple[str, ...]] = {
    "metrics": ("model/metrics.py",),
    "CV": ("model/selection.py",),
    "training loop": ("model/fit.py", "model/optimizers.py"),
    "data: label, features, split": ("model/data.py",),
    "export metadata and validation": ("export/metadata.py", "export/validate.py"),
    "metadata and verify on load": ("contract/metadata.py", "contract/verify.py", "contract/onnxproto.py"),
    "scoring options": ("scoring/options.py",),
    "column matching": ("scoring/io/layout.py",),
    "block cutting and parsing": ("scoring/io/blocks.py", "scoring/io/parsing.py"),
    "both engines": ("scoring/streaming.py", "scoring/batch.py", "scoring/io/output.py"),
    "Dask commit": ("scoring/distributed/store.py",),
}
STATUSES = ("killed", "survived", "timeout", "no tests", "suspicious", "segfault", "skipped", "not checked")
RESULT_LINE = re.compile(r"^\s*(?P<name>[\w.ǁ]+__mutmut_\d+): (?P<status>.+)$")


def copy_tree(work: Path) -> None:
    """The tracked files as they are on disk (so uncommitted edits count), without anything git ignores."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, work / name)


def select_tests(pyproject: Path, tests: list[str]) -> None:
    """Replace the copy's ``pytest_add_cli_args_test_selection`` with ``tests`` (the tree's file is not touched)."""
    text = pyproject.read_text()
    pattern = re.compile(r"^pytest_add_cli_args_test_selection = \[.*?\]$", re.DOTALL | re.MULTILINE)
    if not pattern.search(text):
        raise SystemExit(f"{pyproject}: no pytest_add_cli_args_test_selection to replace")
    pyproject.write_text(pattern.sub(lambda _: f"pytest_add_cli_args_test_selection = {json.dumps(tests)}", text, 1))


def build_artifacts(work: Path, env: dict[str, str]) -> Path:
    """The default run's export, another run's and the default MLP's, built once from unmutated code (see
    tests/conftest.py)."""
    out = work / "artifacts"
    script = (
        "import sys; from pathlib import Path; from model.fit import FitConfig; "
        "from model.run import save_run, train; from export.pipeline import export_model; "
        "from model.families import ModelSpec; "
        "root = Path(sys.argv[1]); "
        "save_run(train(FitConfig()), root / 'model'); export_model(root / 'model', root / 'export'); "
        "save_run(train(FitConfig(epochs=5), target_fnr=0.0), root / 'other/model'); "
        "export_model(root / 'other/model', root / 'other/export'); "
        "save_run(train(FitConfig(), model_spec=ModelSpec.of('mlp')), root / 'mlp/model'); "
        "export_model(root / 'mlp/model', root / 'mlp/export')"
    )
    subprocess.run([sys.executable, "-c", script, str(out)], cwd=work, env=env, check=True)
    return out


def module_of(mutant: str) -> str:
    """'scoring.io.layout.x_match_features__mutmut_3' -> 'scoring/io/layout.py'."""
    dotted = mutant.split(".x", 1)[0] if ".x" in mutant else mutant.rsplit(".", 1)[0]
    return dotted.replace(".", "/") + ".py"


def results(work: Path, env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=work, env=env,
                          check=True, capture_output=True, text=True)
    return {m["name"]: m["status"].strip() for m in map(RESULT_LINE.match, done.stdout.splitlines()) if m}


def summarize(outcome: dict[str, str]) -> list[dict[str, object]]:
    rows = []
    for group, files in GROUPS.items():
        counts = Counter(status for name, status in outcome.items() if module_of(name) in files)
        rows.append({"group": group, "files": list(files), "mutants": sum(counts.values()), **counts})
    return rows


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| modules | mutants | killed | survived | timeout | no tests | not checked | score |",
             "|---|---|---|---|---|---|---|---|"]
    total: Counter[str] = Counter()
    for row in rows:
        total.update({k: v for k, v in row.items() if isinstance(v, int)})
        lines.append(_line(", ".join(row["files"]), row))  # type: ignore[arg-type]
    lines.append(_line("**all**", total))
    return "\n".join(lines)


def _line(name: str, row) -> str:  # noqa: ANN001
    tested = row.get("killed", 0) + row.get("survived", 0) + row.get("timeout", 0)
    score = f"{(row.get('killed', 0) + row.get('timeout', 0)) / tested:.1%}" if tested else "-"
    return (f"| {name} | {row.get('mutants', 0)} | {row.get('killed', 0)} | {row.get('survived', 0)} "
            f"| {row.get('timeout', 0)} | {row.get('no tests', 0)} | {row.get('not checked', 0)} | {score} |")


def survivors_diff(work: Path, env: dict[str, str], outcome: dict[str, str]) -> str:
    """Every surviving mutant as the diff ``mutmut show`` prints, for explaining or killing it."""
    parts = []
    for name in sorted(n for n, s in outcome.items() if s in ("survived", "no tests")):
        shown = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=work, env=env,
                               capture_output=True, text=True).stdout
        changed = [line for line in shown.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        parts.append(f"## {name} ({outcome[name]})\n" + "\n".join(changed))
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/mutation/run.py", description=__doc__)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "mutation",
                        help="where the copy of the tree, mutmut's mutants/ and the results go (default: build/mutation)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2, help="mutants tested at once")
    parser.add_argument("--keep", action="store_true", help="reuse a previous run's copy and results (incremental)")
    parser.add_argument("--only", action="append", default=[], metavar="FILE",
                        choices=[f for files in GROUPS.values() for f in files],
                        help="mutate only this module (repeatable, e.g. --only model/metrics.py); with --keep, "
                             "the others keep their previous results; its mutants are retested even if done")
    parser.add_argument("--mutant", action="append", default=[], metavar="NAME",
                        help="retest this mutant (repeatable; a name from summary.json or survivors.md, e.g. after "
                             "adding the test that should kill it); use with --keep")
    parser.add_argument("--tests", nargs="+", default=None, metavar="TEST_FILE",
                        help="run only these test files against the mutants (e.g. a module's own tests, to make a slow "
                             "module affordable; fewer tests can only kill fewer mutants); use its own --work, since "
                             "mutmut discards a copy's results when its test list changes")
    args = parser.parse_args(argv)

    work: Path = args.work.resolve()
    if not args.keep and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    copy_tree(work)
    if args.tests:
        select_tests(work / "pyproject.toml", args.tests)
    env = {**os.environ, "PYTHONPATH": str(work)}
    if not (work / "artifacts" / "other" / "export").exists():
        build_artifacts(work, env)
    env["WDBC_MUTATION_ARTIFACTS"] = str(work / "artifacts")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip())

    started = time.monotonic()
    patterns = [name.removesuffix(".py").replace("/", ".") + ".*" for name in args.only] + args.mutant
    subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children), *patterns],
                   cwd=work, env=env, check=False)
    seconds = time.monotonic() - started
    outcome = results(work, env)
    rows = summarize(outcome)
    (work / "summary.json").write_text(json.dumps(
        {"commit": commit.strip(), "dirty": dirty, "seconds": round(seconds), "groups": rows, "mutants": outcome},
        indent=1))
    (work / "survivors.md").write_text(survivors_diff(work, env, outcome))
    print(f"\ncommit {commit.strip()}{' (with uncommitted changes)' if dirty else ''}, {seconds / 60:.0f} min\n")
    print(table(rows))
    print(f"\nper mutant: {work / 'summary.json'}; survivors as diffs: {work / 'survivors.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
