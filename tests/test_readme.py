"""The README's and docs/'s commands, as written (every documented command has a test behind it).

- The own-data example runs line by line, exactly as written.
- Every ``python -m MODULE ...`` in a fenced block or an inline code span of README.md or docs/*.md names a
  module that exists, and uses only flags (and listed choices) that the module's own argparse parser has; a
  complete command (not a ``[...]`` synopsis, and with arguments) must parse with that parser. Cheap: one
  short subprocess per module gets its parser, nothing is trained or scored.
- Every relative link points at a file that exists, and an ``#anchor`` into a Markdown file at a heading.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
#: The project's own command lines: their flags are checked. Others (pytest) are only checked to exist.
PROJECT_PACKAGES = {"model", "export", "scoring", "benchmarks"}


def block_after(marker: str, document: Path = README) -> list[str]:
    """The lines of the fenced block that follows ``<!-- marker -->`` in ``document``."""
    text = document.read_text()
    match = re.search(rf"<!-- {re.escape(marker)} -->\n```\n(.*?)```", text, re.S)
    assert match, f"no block after <!-- {marker} --> in {document.name}"
    return [line for line in match.group(1).splitlines() if line.strip()]


def run_as_written(lines: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Each ``python ...`` line in turn, in ``cwd``, with this interpreter; returns the last one's result."""
    for line in lines:
        args = shlex.split(line)
        assert args[0] == "python"
        done = subprocess.run([sys.executable, *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
    return done


@pytest.mark.slow
def test_own_data_example_runs_as_written(tmp_path: Path) -> None:
    done = run_as_written(block_after("own-data-example"), tmp_path)
    scored = pl.read_csv(tmp_path / "runs/iris/scored.csv")
    assert scored.columns == ["species", "probability", "label", "predicted_species"] and scored.height == 100
    assert set(scored["predicted_species"]) <= {"virginica", "versicolor"}
    assert "features float32 [batch, 4]" in done.stdout and "1 = 'virginica'" in done.stdout


@pytest.mark.slow
def test_the_rings_example_runs_as_written_and_only_the_mlp_separates_them(tmp_path: Path) -> None:
    """docs/training.md's claim: on two concentric rings the MLP reaches ROC AUC >= 0.97, logistic regression
    stays at chance (<= 0.65), both from the command line."""
    run_as_written(block_after("rings-example", ROOT / "docs" / "training.md"), tmp_path)
    auc = {family: json.loads((tmp_path / "runs/rings" / family / "report.json").read_text())["metrics"]["test"]
           ["roc_auc"] for family in ("mlp", "logreg")}
    assert auc["mlp"] >= 0.97 and auc["logreg"] <= 0.65, auc


# --- Markdown, read just enough ------------------------------------------------------------------------------

FENCE = re.compile(r"^ {0,3}(```|~~~)")


def split_fences(text: str) -> tuple[list[tuple[int, list[str]]], list[tuple[int, str]]]:
    """(fenced blocks as (line number of their first line, lines), prose lines as (line number, line))."""
    blocks: list[tuple[int, list[str]]] = []
    prose: list[tuple[int, str]] = []
    current: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            if current is None:
                current = []
                blocks.append((number + 1, current))
            else:
                current = None
        elif current is not None:
            current.append(line)
        else:
            prose.append((number, line))
    assert current is None, "a fenced block is never closed"
    return blocks, prose


def inline_spans(prose: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Inline code spans, each with the line it starts on (a span may wrap onto the next line)."""
    text = "\n".join(line for _, line in prose)
    numbers = [number for number, _ in prose]
    return [(numbers[text.count("\n", 0, m.start())], " ".join(m.group(1).split()))
            for m in re.finditer(r"(?<!`)`([^`]+)`(?!`)", text)]


# --- `python -m` commands --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    where: str  # FILE:LINE
    module: str
    text: str  # from the module name on, continuation lines joined
    synopsis: bool  # a usage line with [optional] parts: only its flags are checked


START = re.compile(r"(?:^|(?<=[\s/]))python -m ([A-Za-z_][\w.]*)")


def commands_in(path: Path) -> list[Command]:
    rel = path.relative_to(ROOT).as_posix()
    blocks, prose = split_fences(path.read_text())
    found: list[Command] = []
    for first, lines in blocks:
        for i, line in enumerate(lines):
            for match in START.finditer(line):
                text = line[match.start(1):]
                j = i + 1  # a usage line continues on indented lines, a shell line after a backslash
                while j < len(lines) and (text.endswith("\\") or (lines[j][:1].isspace() and "[" in text)):
                    text = text.rstrip("\\") + " " + lines[j].strip()
                    j += 1
                found.append(Command(f"{rel}:{first + i}", match.group(1), text, "[" in text))
    for number, span in inline_spans(prose):
        if (match := START.match(span)) is not None:
            text = span[match.start(1):]
            found.append(Command(f"{rel}:{number}", match.group(1), text, "[" in text))
    return found


COMMANDS = [command for path in DOCS for command in commands_in(path)]


def shell_words(text: str) -> list[str]:
    """The arguments of one command: shell words up to the first pipe, redirection, ``&&``, ``;`` or comment."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = []
    for word in lexer:
        if word and set(word) <= set("|&;<>()"):
            break
        words.append(word)
    return words[1:]  # after the module name


FLAG = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")
#: ``--runtime onnx|tf`` in a usage line: the choices the docs list.
LISTED_CHOICES = re.compile(r"(--[A-Za-z][\w-]*)[ =]([\w.]+(?:\|[\w.]+)+)")

PROBE = r"""
import argparse, contextlib, io, json, runpy, sys

module, argvs = sys.argv[1], json.loads(sys.argv[2])
found = []

class Captured(BaseException):
    pass

real = argparse.ArgumentParser.parse_known_args

def capture(self, args=None, namespace=None):
    found.append(self)
    raise Captured

argparse.ArgumentParser.parse_known_args = capture
sys.argv = [module]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
except BaseException:
    pass
argparse.ArgumentParser.parse_known_args = real
if not found:
    print(json.dumps({"error": "no argparse parser was reached"}))
    sys.exit(0)
parser = found[0]
options = {s: (sorted(map(str, a.choices)) if a.choices is not None else None)
           for a in parser._actions for s in a.option_strings}
errors = []
for argv in argvs:
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
        errors.append(None)
    except SystemExit:
        errors.append(stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue().strip() else "exit")
print(json.dumps({"options": options, "errors": errors}))
"""


def full_parse(command: Command) -> bool:
    return not command.synopsis and bool(shell_words(command.text))


@functools.cache
def probe(module: str) -> dict:
    """The module's parser (its options and their choices), and how it takes each complete documented command."""
    argvs = [shell_words(c.text) for c in COMMANDS if c.module == module and full_parse(c)]
    done = subprocess.run([sys.executable, "-c", PROBE, module, json.dumps(argvs)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"probing {module}:\n{done.stderr[-2000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "error" not in result, f"python -m {module}: {result['error']}"
    result["errors"] = dict(zip(map(tuple, argvs), result["errors"]))
    return result


def test_the_docs_have_commands() -> None:
    """The parser of this file works: README.md alone has several commands, every doc file is read."""
    assert sum(c.where.startswith("README.md:") for c in COMMANDS) >= 5
    assert {c.module for c in COMMANDS} >= {"model.train", "export", "scoring.batch", "scoring.inspect",
                                            "scoring.distributed", "model.journey"}


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=[c.where for c in COMMANDS])
def test_documented_command_is_accepted(command: Command) -> None:
    assert importlib.util.find_spec(command.module) is not None, f"{command.where}: no module {command.module}"
    if command.module.split(".")[0] not in PROJECT_PACKAGES:
        return
    options = probe(command.module)["options"]
    unknown = [flag for flag in FLAG.findall(command.text) if flag not in options]
    assert not unknown, f"{command.where}: python -m {command.module} has no {', '.join(unknown)}"
    for flag, listed in LISTED_CHOICES.findall(command.text):
        if options[flag] is not None:
            assert sorted(listed.split("|")) == options[flag], f"{command.where}: {flag} takes {options[flag]}"
    if full_parse(command):
        error = probe(command.module)["errors"][tuple(shell_words(command.text))]
        assert error is None, f"{command.where}: python -m {command.text}\n{error}"


# --- relative links ----------------------------------------------------------------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def slug(heading: str) -> str:
    """The anchor a heading gets when the Markdown is rendered (GitHub's rule)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    _, prose = split_fences(path.read_text())
    seen: dict[str, int] = {}
    result = set()
    for _, line in prose:
        if (match := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)) is not None:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f"{base}-{count}")
    return result


def links_in(path: Path) -> list[tuple[str, str]]:
    rel = path.relative_to(ROOT).as_posix()
    _, prose = split_fences(path.read_text())
    found = []
    for number, line in prose:
        line = re.sub(r"(?<!`)`[^`]+`(?!`)", "``", line)  # no links inside code; code inside a link's text is fine
        for match in LINK.finditer(line):
            target = match.group(1)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ... are not checked
                found.append((f"{rel}:{number}", target))
    return found


LINKS = [(where, target) for path in DOCS for where, target in links_in(path)]


def test_the_docs_have_links() -> None:
    assert any(where.startswith("README.md:") for where, _ in LINKS)


@pytest.mark.parametrize(("where", "target"), LINKS, ids=[f"{w}:{t}" for w, t in LINKS])
def test_relative_link_resolves(where: str, target: str) -> None:
    source = ROOT / where.rsplit(":", 1)[0]
    name, _, anchor = target.partition("#")
    path = (source.parent / name).resolve() if name else source
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    assert path.exists(), f"{where}: {target} -> {rel} does not exist"
    if anchor and path.suffix == ".md":
        assert anchor in anchors(path), f"{where}: {rel} has no heading #{anchor}"
