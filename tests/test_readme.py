"""The README's commands, run exactly as written (every README claim has a test behind it)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import polars as pl

README = Path(__file__).resolve().parents[1] / "README.md"


def block_after(marker: str) -> list[str]:
    """The lines of the fenced block that follows ``<!-- marker -->``."""
    text = README.read_text()
    match = re.search(rf"<!-- {re.escape(marker)} -->\n```\n(.*?)```", text, re.S)
    assert match, f"no block after <!-- {marker} --> in README.md"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_own_data_example_runs_as_written(tmp_path: Path) -> None:
    for line in block_after("own-data-example"):
        args = shlex.split(line)
        assert args[0] == "python"
        done = subprocess.run([sys.executable, *args[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
    scored = pl.read_csv(tmp_path / "runs/iris/scored.csv")
    assert scored.columns == ["species", "probability", "label", "predicted_species"] and scored.height == 100
    assert set(scored["predicted_species"]) <= {"virginica", "versicolor"}
    assert "features float32 [batch, 4]" in done.stdout and "1 = 'virginica'" in done.stdout
