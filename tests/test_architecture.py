"""The packages' import rules (docs/architecture.md): model/ and scoring/ are siblings that meet at contract/."""

from __future__ import annotations

import ast
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
