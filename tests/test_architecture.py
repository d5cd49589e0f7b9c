"""The packages' import rules (docs/architecture.md): model/ and scoring/ are siblings that meet at contract/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What each package may import of the project's own packages (itself always).
ALLOWED = {
    "contract": set(),
    "model": {"contract"},
    "export": {"contract", "model"},
    "scoring": {"contract"},
    "benchmarks": {"contract", "model", "export", "scoring"},
}
#: Heavy libraries the contract must never import at module level (the ONNX scoring path loads it).
NOT_IN_CONTRACT = {"tensorflow", "onnx", "tf2onnx", "polars", "pandas", "onnxruntime"}


def imported(path: Path) -> set[str]:
    """The top-level names of everything ``path`` imports, anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def module_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_it_may(package: str) -> None:
    ours = set(ALLOWED)
    wrong = {str(path.relative_to(ROOT)): sorted((imported(path) & ours) - ALLOWED[package] - {package})
             for path in sorted((ROOT / package).rglob("*.py"))}
    assert {file: names for file, names in wrong.items() if names} == {}


def test_the_contract_loads_no_heavy_library_at_import() -> None:
    heavy = {str(path.relative_to(ROOT)): sorted(module_level_imports(path) & NOT_IN_CONTRACT)
             for path in sorted((ROOT / "contract").rglob("*.py"))}
    assert {file: names for file, names in heavy.items() if names} == {}


def spelled_keys(path: Path, keys: set[str]) -> list[str]:
    """Where ``path`` reads one of ``keys`` by its spelling: ``d["k"]``, ``d.get("k")``, ``d.pop("k")``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Subscript):
            candidates = [node.slice]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"get", "pop"}:
            candidates = node.args[:1]
        else:
            continue
        found += [f"{path.relative_to(ROOT)}:{c.lineno} {c.value!r}" for c in candidates
                  if isinstance(c, ast.Constant) and c.value in keys]
    return found


def test_metadata_keys_are_spelled_only_where_the_metadata_is_defined() -> None:
    """The export's metadata keys live in contract/metadata.py; export/metadata.py maps the training run's
    model.json (model/'s own format, whose keys share names) onto it. Everyone else reads ``Metadata``'s (and
    ``Hashes``') fields, never a raw dict by key."""
    from dataclasses import fields

    from contract.metadata import Hashes, Metadata

    keys = {f.name for f in fields(Metadata)} | {f.name for f in fields(Hashes)}
    exempt = {ROOT / "contract" / "metadata.py", ROOT / "export" / "metadata.py"}
    # The manifest (contract/artifacts.py defines it) has a "format" key of its own, not the metadata's.
    own = {"contract/artifacts.py:format"}
    spelled = [hit for package in ("contract", "export", "scoring") for path in sorted((ROOT / package).rglob("*.py"))
               if path not in exempt for hit in spelled_keys(path, keys)
               if f"{hit.split(':')[0]}:{hit.split(' ', 1)[1].strip(chr(39))}" not in own]
    assert spelled == []


def test_nothing_downstream_of_model_knows_which_model_family_it_carries() -> None:
    """export/ and scoring/ name no model family, nor a family's module or class: what they do with an export is
    the same for every family (the family itself is metadata they pass on, never a condition)."""
    from model.classifier import NETS
    from model.families import FAMILIES

    names = {*FAMILIES, *(net.__name__ for net in NETS.values()), *(net.__module__.rsplit(".", 1)[1] for net in
                                                                    NETS.values()), "perceptron", "logistic"}
    pattern = re.compile(rf"\b({'|'.join(map(re.escape, sorted(names)))})\b", re.IGNORECASE)
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for package in ("export", "scoring") for path in sorted((ROOT / package).rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []
