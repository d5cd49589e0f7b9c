"""Tests for contract.verify: mixed, tampered and inconsistent artifacts are refused on load, on both runtimes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from contract.artifacts import SIDECAR, ModelRef, resolve_model
from contract.errors import ModelError
from scoring.batch import main as score_main
from scoring.runtimes import load_runtime
from tests.expect import says


def copy_export(export_dir: Path, target: Path) -> Path:
    shutil.copytree(export_dir, target)
    return target


def edit_onnx_metadata(path: Path, **changes: object) -> None:
    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key in changes:
            value = changes[prop.key]
            prop.value = value if isinstance(value, str) else json.dumps(value)
    onnx.save(model, str(path))


def edit_sidecar(saved_model: Path, **changes: object) -> None:
    path = saved_model / SIDECAR
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def swapped(names: list[str]) -> list[str]:
    return [names[1], names[0], *names[2:]]


@pytest.mark.slow
def test_siblings_from_two_exports_are_refused_on_both_runtimes(export_dir, other_export_dir, tmp_path,
                                                                  runtime_name) -> None:
    """The issue's case: model.onnx of one run beside saved_model/ of another scored 262 vs 208 positives."""
    mixed = copy_export(export_dir, tmp_path / "mixed")
    shutil.copy(other_export_dir / "model.onnx", mixed / "model.onnx")
    with pytest.raises(ModelError, match=r"mixed/model.onnx and .*mixed/saved_model are not from the same export: "
                                         r".*saved_model's metadata names an ONNX file with SHA-256 [0-9a-f]{12}\.\.\., "
                                         r"but .*model.onnx has [0-9a-f]{12}\.\.\..*Re-export both"):
        load_runtime(resolve_model(mixed, runtime_name))
    # --no-verify is the escape hatch: it loads what it is told to.
    assert load_runtime(resolve_model(mixed, runtime_name), verify=False).threshold > 0


def test_mixed_folder_through_the_cli_is_one_line_and_writes_nothing(export_dir, other_export_dir, wdbc_csv,
                                                                      tmp_path, capsys, runtime_name) -> None:
    mixed = copy_export(export_dir, tmp_path / "mixed")
    shutil.rmtree(mixed / "saved_model")
    shutil.copytree(other_export_dir / "saved_model", mixed / "saved_model")
    out = tmp_path / "out.csv"
    assert score_main([str(wdbc_csv), str(out), "--model", str(mixed), "--runtime", runtime_name]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ModelError: ") and "not from the same export" in err[0]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["mixed"]
    # --no-verify: scored with what it was told to load.
    assert score_main([str(wdbc_csv), str(out), "--model", str(mixed), "--runtime", runtime_name, "--no-verify"]) == 0
    assert len(out.read_text().splitlines()) == 570


def test_swapped_feature_names_are_refused(export_dir, tmp_path, runtime_name) -> None:
    for where in ("onnx", "sidecar"):
        folder = copy_export(export_dir, tmp_path / where)
        names = json.loads((folder / "saved_model" / SIDECAR).read_text())["feature_names"]
        if where == "onnx":
            edit_onnx_metadata(folder / "model.onnx", feature_names=swapped(names))
            match = r"model.onnx has [0-9a-f]{12}.*their metadata differ in feature_names"
        else:
            edit_sidecar(folder / "saved_model", feature_names=swapped(names))
            match = r"not from the same export: their metadata differ in feature_names"
        with pytest.raises(ModelError, match=match):
            load_runtime(resolve_model(folder, runtime_name))


def test_lone_onnx_threshold_must_be_the_graphs(export_dir, tmp_path) -> None:
    lone = tmp_path / "lone.onnx"
    shutil.copy(export_dir / "model.onnx", lone)
    edit_onnx_metadata(lone, threshold=0.9)
    with pytest.raises(ModelError, match=r"lone.onnx: the graph labels rows with probability > 0.5, but its metadata "
                                         r"says the threshold is 0.9; the artifact is inconsistent"):
        load_runtime(resolve_model(lone, None))


def test_lone_saved_model_threshold_must_be_the_graphs(export_dir, tmp_path) -> None:
    lone = tmp_path / "sm"
    shutil.copytree(export_dir / "saved_model", lone)
    edit_sidecar(lone, threshold=0.25)
    with pytest.raises(ModelError, match=r"sm: the graph labels rows with probability > 0.5, but its metadata says "
                                         r"the threshold is 0.25"):
        load_runtime(resolve_model(lone, None))


def test_duplicate_names_in_metadata_are_refused_not_a_crash(export_dir, wdbc_csv, tmp_path, capsys) -> None:
    lone = tmp_path / "dup.onnx"
    shutil.copy(export_dir / "model.onnx", lone)
    names = json.loads((export_dir / "saved_model" / SIDECAR).read_text())["feature_names"]
    edit_onnx_metadata(lone, feature_names=[names[0], *names[:-1]])
    assert score_main([str(wdbc_csv), str(tmp_path / "o.csv"), "--model", str(lone)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"ModelError: The metadata of {lone} names the feature(s) 'radius_mean' more than once; feature "
                   "names must be unique. The artifact is damaged: re-export it."]


def test_empty_variables_file_is_a_model_error(export_dir, tmp_path) -> None:
    """It was an IndexError traceback."""
    lone = tmp_path / "sm"
    shutil.copytree(export_dir / "saved_model", lone)
    (lone / "variables" / "variables.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(ModelError, match=r"Could not load the SavedModel .*sm: "):
        load_runtime(ModelRef("tf", lone))


def test_old_format_is_refused_with_the_fix(export_dir, tmp_path) -> None:
    lone = tmp_path / "old.onnx"
    shutil.copy(export_dir / "model.onnx", lone)
    edit_onnx_metadata(lone, format="wdbc-logreg-export/1")
    with pytest.raises(ModelError, match=r"format 'logreg-export/2' .* got 'wdbc-logreg-export/1'.*Re-export it"):
        load_runtime(resolve_model(lone, None))


def test_a_verified_load_scores_as_an_unverified_one(export_dir) -> None:
    x = np.random.default_rng(0).normal(10, 5, size=(64, 30)).astype(np.float32)
    for runtime in ("onnx", "tf"):
        ref = resolve_model(export_dir, runtime)
        a, b = load_runtime(ref).predict(x), load_runtime(ref, verify=False).predict(x)
        np.testing.assert_array_equal(a["probability"], b["probability"])


@pytest.mark.parametrize(("recorded", "shown"), [(None, "None"), (12345, "12345")])
def test_a_sidecar_without_a_readable_onnx_hash_is_refused_showing_what_it_holds(export_dir, tmp_path, recorded,
                                                                                  shown) -> None:
    from contract.verify import verify_export_dir

    copy = copy_export(export_dir, tmp_path / "copy")
    edit_sidecar(copy / "saved_model", onnx_sha256=recorded)
    with pytest.raises(ModelError, match=rf"saved_model's metadata names an ONNX file with SHA-256 {shown}, but "
                                         rf"\S+/copy/model\.onnx has [0-9a-f]{{12}}\.\.\.\. Re-export both"):
        verify_export_dir(copy)


def test_the_graphs_threshold_is_found_in_a_constant_node_and_only_on_probability() -> None:
    """Other producers write the threshold as a Constant node, not an initializer; a Greater node on another
    output is not the label's."""
    from onnx import TensorProto, helper

    from contract.verify import onnx_threshold

    def constant(name: str, value: float) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.FLOAT, [], [value]))

    nodes = [constant("big", 7.0), helper.make_node("Greater", ["logit", "big"], ["large"]),
             constant("cut", 0.25), helper.make_node("Greater", ["probability", "cut"], ["label"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1])
                                           for n in ("probability", "logit")],
                              [helper.make_tensor_value_info(n, TensorProto.BOOL, [1]) for n in ("label", "large")])
    assert onnx_threshold(helper.make_model(graph)) == 0.25


def test_an_export_directory_with_one_artifact_has_nothing_to_compare(export_dir, tmp_path) -> None:
    from contract.metadata import Hashes
    from contract.verify import verify_export_dir

    only_onnx, only_saved_model = tmp_path / "onnx", tmp_path / "sm"
    only_onnx.mkdir()
    shutil.copy(export_dir / "model.onnx", only_onnx / "model.onnx")
    shutil.copytree(export_dir / "saved_model", only_saved_model / "saved_model")
    assert verify_export_dir(only_onnx) == Hashes() and verify_export_dir(only_saved_model) == Hashes()


def test_a_changed_saved_model_is_refused_showing_the_hash_the_onnx_file_recorded(export_dir, tmp_path) -> None:
    from contract.verify import OnnxFile, verify_export_dir

    copy = copy_export(export_dir, tmp_path / "copy")
    recorded = OnnxFile.read(copy / "model.onnx").metadata().saved_model_sha256
    with open(copy / "saved_model" / "saved_model.pb", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelError, match=rf"copy/model\.onnx's metadata names a SavedModel with SHA-256 "
                                         rf"{recorded[:12]}\.\.\., but \S+/copy/saved_model has [0-9a-f]{{12}}\.\.\."):
        verify_export_dir(copy)


def test_the_graphs_threshold_must_be_found_and_may_differ_from_the_metadata_by_at_most_1e_7() -> None:
    from contract.verify import check_threshold

    with pytest.raises(ModelError) as info:
        check_threshold(None, 0.5, Path("m.onnx"))
    says(str(info.value), "threshold", "m.onnx", "python -m export", "--no-verify")
    check_threshold(1e-7, 0.0, Path("m.onnx"))  # exactly the tolerance: the same threshold
    with pytest.raises(ModelError, match="labels rows with probability > 2e-07, but its metadata says the threshold"):
        check_threshold(2e-7, 0.0, Path("m.onnx"))


def test_every_problem_of_a_mixed_export_is_listed_in_one_message(export_dir, tmp_path) -> None:
    from contract.verify import verify_export_dir

    copy = copy_export(export_dir, tmp_path / "copy")
    names = json.loads((copy / "saved_model" / SIDECAR).read_text())["feature_names"]
    edit_onnx_metadata(copy / "model.onnx", feature_names=swapped(names), label_column="outcome")
    with pytest.raises(ModelError, match=r"copy/model\.onnx has [0-9a-f]{12}\.\.\.; their metadata differ in "
                                         r"feature_names, label_column\. Re-export both with `python -m export`"):
        verify_export_dir(copy)


def test_an_unreadable_onnx_file_is_one_line_naming_it(tmp_path) -> None:
    from contract.verify import read_onnx

    path = tmp_path / "model.onnx"
    path.write_bytes(b"not a protobuf")
    with pytest.raises(ModelError, match=rf"^Could not read the ONNX model {re.escape(str(path))}: Error parsing"):
        read_onnx(path)


@pytest.mark.parametrize(("shapes", "width"), [
    ([["batch", 30]], 30),
    ([["batch", "n"]], None),  # a width the graph does not fix
    ([["batch"]], None),
    ([["batch", 30, 1]], None),
    ([["batch", 30], ["batch", 30]], None),  # two inputs: not ours to read
])
def test_the_width_is_read_only_from_one_rank_2_input_with_a_fixed_width(shapes: list, width: int | None) -> None:
    from onnx import TensorProto, helper

    from contract.verify import OnnxFile

    inputs = [helper.make_tensor_value_info(f"in{i}", TensorProto.FLOAT, shape) for i, shape in enumerate(shapes)]
    graph = helper.make_graph([], "g", inputs, [])
    assert OnnxFile(Path("m.onnx"), b"", helper.make_model(graph)).width() == width


def test_metadata_checks_the_graphs_threshold_unless_told_not_to(export_dir, tmp_path) -> None:
    from contract.verify import OnnxFile

    lone = tmp_path / "lone.onnx"
    shutil.copy(export_dir / "model.onnx", lone)
    edit_onnx_metadata(lone, threshold=0.9)
    with pytest.raises(ModelError, match="lone.onnx: the graph labels rows"):
        OnnxFile.read(lone).metadata()
    assert OnnxFile.read(lone).metadata(verify=False).threshold == 0.9


def test_read_metadata_checks_what_a_scorer_checks_without_loading_a_runtime(export_dir, other_export_dir,
                                                                              tmp_path, monkeypatch) -> None:
    from contract import verify
    from contract.verify import read_metadata

    names = json.loads((export_dir / "saved_model" / SIDECAR).read_text())["feature_names"]
    assert read_metadata(resolve_model(export_dir, "tf")).feature_names == names
    assert read_metadata(resolve_model(export_dir / "saved_model", None)).feature_names == names
    parsed = []
    monkeypatch.setattr(verify, "load_model", lambda data: parsed.append(1) or onnx.load_from_string(data))
    assert read_metadata(resolve_model(export_dir, "onnx")).feature_names == names
    assert len(parsed) == 1  # the siblings' check, the threshold and the metadata from one parse of model.onnx
    monkeypatch.undo()

    mixed = copy_export(export_dir, tmp_path / "mixed")
    shutil.copy(other_export_dir / "model.onnx", mixed / "model.onnx")
    for runtime in ("onnx", "tf"):
        with pytest.raises(ModelError, match="not from the same export"):
            read_metadata(resolve_model(mixed, runtime))
        assert read_metadata(resolve_model(mixed, runtime), verify=False).feature_names == names
    lone = tmp_path / "lone.onnx"
    shutil.copy(export_dir / "model.onnx", lone)
    edit_onnx_metadata(lone, threshold=0.9)
    with pytest.raises(ModelError, match="lone.onnx: the graph labels rows"):
        read_metadata(resolve_model(lone, None))
    broken = copy_export(export_dir / "saved_model", tmp_path / "broken")
    edit_sidecar(broken, feature_names="radius_mean")
    with pytest.raises(ModelError, match=f"in {re.escape(str(broken))}'s metadata"):
        read_metadata(resolve_model(broken, None))


def test_a_saved_model_without_our_threshold_variable_is_a_model_error() -> None:
    from types import SimpleNamespace

    from contract.verify import check_saved_model_threshold

    for loaded in (SimpleNamespace(), SimpleNamespace(classifier=SimpleNamespace())):
        with pytest.raises(ModelError, match="Could not find the threshold in sm"):
            check_saved_model_threshold(loaded, 0.5, Path("sm"))
