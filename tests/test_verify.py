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
    assert err == [f"ModelError: The metadata of {lone} names the feature(s) 'radius_mean' more than once (1 in all); feature "
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
    with pytest.raises(ModelError, match=r"format 'logreg-export/3' .* got 'wdbc-logreg-export/1'.*Re-export it"):
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


def test_an_export_directory_is_one_its_manifest_vouches_for(export_dir, tmp_path) -> None:
    """A folder holding one artifact without the export's manifest is no export; one artifact missing from an export
    is named."""
    from contract.verify import verify_export_dir

    only_onnx = tmp_path / "onnx"
    only_onnx.mkdir()
    shutil.copy(export_dir / "model.onnx", only_onnx / "model.onnx")
    with pytest.raises(ModelError, match=r"onnx has no manifest.json \(the list of the export's files"):
        verify_export_dir(only_onnx)
    partial = copy_export(export_dir, tmp_path / "partial")
    shutil.rmtree(partial / "saved_model")
    with pytest.raises(ModelError, match=r"partial: 'saved_model/assets/metadata.json', .* are missing, by its "
                                         r"manifest.json"):
        verify_export_dir(partial)


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
# ---------------------------------------------------------------------------------------------- proving what runs


def set_graph_threshold(path: Path, value: float, initializer: str = "Greater/ReadVariableOp:0") -> None:
    from onnx import numpy_helper

    model = onnx.load(str(path))
    for i, tensor in enumerate(model.graph.initializer):
        if tensor.name == initializer:
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.array(value, np.float32), initializer))
    onnx.save(model, str(path))


def with_decoy(source: Path, target: Path, decoy: float) -> Path:
    """The issue's attack: a Greater(probability, decoy) wired into label, beside the real Greater(probability, 0.5)
    left dangling, first in the graph."""
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    model.graph.initializer.append(numpy_helper.from_array(np.array(decoy, np.float32), "decoy"))
    model.graph.node.append(helper.make_node("Greater", ["probability", "decoy"], ["decoy_label"]))
    for node in model.graph.node:
        if list(node.output) == ["label"]:
            node.input[0] = "decoy_label"
    onnx.save(model, str(target))
    return target


def test_the_threshold_is_the_one_that_makes_label_not_a_decoy_beside_it(export_dir, wdbc_csv, tmp_path,
                                                                          capsys) -> None:
    """The issue's case: the first Greater(probability, c) was read (0.5), the one feeding label (0.999) scored
    117 positives instead of 208, and the model was said to be verified."""
    from contract.verify import onnx_threshold

    lone = with_decoy(export_dir / "model.onnx", tmp_path / "decoy.onnx", 0.999)
    assert onnx_threshold(onnx.load(str(lone))) == pytest.approx(0.999)
    out = tmp_path / "out.csv"
    assert score_main([str(wdbc_csv), str(out), "--model", str(lone)]) == 2
    assert capsys.readouterr().err == (f"ModelError: {lone}: the graph labels rows with probability > 0.999000013, but "
                                       "its metadata says the threshold is 0.5; the artifact is inconsistent. "
                                       "Re-export it.\n")
    assert not out.exists()


def test_running_the_model_proves_its_label_applies_the_threshold(export_dir, tmp_path) -> None:
    """Whatever the graph looks like: probe rows, then rows bisected to just below and just above the threshold."""
    import onnxruntime as ort

    from contract.verify import check_labels

    for decoy, caught in ((0.5 + 1e-5, True), (0.999, True), (0.5, False)):
        path = with_decoy(export_dir / "model.onnx", tmp_path / f"decoy-{decoy}.onnx", decoy)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

        def predict(x: np.ndarray) -> dict[str, np.ndarray]:
            return dict(zip(("probability", "label", "logit"), session.run(["probability", "label", "logit"],
                                                                           {"features": x})))

        if caught:
            with pytest.raises(ModelError, match=r"the model labels a row of probability 0\.\d+ as 0, but its "
                                                 r"metadata's threshold is 0.5: its label does not apply"):
                check_labels(predict, 30, 0.5, path)
        else:
            check_labels(predict, 30, 0.5, path)


@pytest.mark.parametrize("value", [float("nan"), 2.0, -1.0])
def test_a_threshold_outside_0_1_in_metadata_and_graph_is_refused(export_dir, tmp_path, value: float) -> None:
    """The issue's cases: NaN passed verification (every comparison with it is false); 2.0 in metadata and graph
    scored 0 of 569 rows positive with exit 0."""
    lone = tmp_path / "lone.onnx"
    shutil.copy(export_dir / "model.onnx", lone)
    set_graph_threshold(lone, value)
    edit_onnx_metadata(lone, threshold=str(value) if value != value else value)
    with pytest.raises(ModelError, match=r"Expected the threshold in .*lone.onnx's metadata to be a number in \[0, 1\]"):
        load_runtime(resolve_model(lone, None))
    from contract.verify import check_threshold

    with pytest.raises(ModelError, match=r"a threshold must be a number in \[0, 1\]"):
        check_threshold(value, value, lone)


def test_the_saved_models_metadata_is_covered_by_the_manifest(export_dir, tmp_path) -> None:
    """The issue's case: saved_model/assets/metadata.json was covered by no hash: swapping two feature_aliases entries
    changed 547 probabilities with --runtime tf."""
    folder = copy_export(export_dir, tmp_path / "export")
    aliases = json.loads((folder / "saved_model" / SIDECAR).read_text())["feature_aliases"]
    first, second = list(aliases)[:2]
    edit_sidecar(folder / "saved_model", feature_aliases={**aliases, first: aliases[second], second: aliases[first]})
    for name in ("tf", "onnx"):
        with pytest.raises(ModelError, match=r"export: 'saved_model/assets/metadata.json' is not the file the export "
                                             r"wrote \(SHA-256 differs\), by its manifest.json"):
            load_runtime(resolve_model(folder, name))
    with pytest.raises(ModelError, match="metadata.json' is not the file"):  # also when the artifact is named alone
        load_runtime(resolve_model(folder / "saved_model", None))


def test_a_resealed_rethresholded_onnx_file_is_refused(export_dir, tmp_path) -> None:
    """The issue's case: editing the sidecar's onnx_sha256 and threshold resealed a re-thresholded model.onnx."""
    from contract.artifacts import sha256_file

    folder = copy_export(export_dir, tmp_path / "export")
    set_graph_threshold(folder / "model.onnx", 0.9)
    edit_onnx_metadata(folder / "model.onnx", threshold=0.9)
    edit_sidecar(folder / "saved_model", threshold=0.9, onnx_sha256=sha256_file(folder / "model.onnx"))
    with pytest.raises(ModelError, match=r"'model.onnx', 'saved_model/assets/metadata.json' are not the files the "
                                         r"export wrote"):
        load_runtime(resolve_model(folder, "onnx"))


def test_a_file_added_to_the_saved_model_is_refused(export_dir, tmp_path) -> None:
    folder = copy_export(export_dir, tmp_path / "export")
    (folder / "saved_model" / "assets" / "vocab.txt").write_text("x\n")
    with pytest.raises(ModelError, match=r"not from the same export: .*model.onnx's metadata names a SavedModel"):
        load_runtime(resolve_model(folder, "tf"))
    from contract.verify import check_manifest

    with pytest.raises(ModelError, match=r"holds 'saved_model/assets/vocab.txt', which its manifest.json does not list"):
        check_manifest(folder)
    (folder / "README.txt").write_text("notes beside the export are fine\n")
    (folder / "saved_model" / "assets" / "vocab.txt").unlink()
    load_runtime(resolve_model(folder, "tf"))


def with_fewer_rows(source: Path, target: Path, dropped: int) -> Path:
    """A graph that gives ``dropped`` rows fewer than it is given, in every output (metadata intact)."""
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    for node in model.graph.node:
        node.output[:] = [f"{o}_all" if o in ("probability", "logit", "label") else o for o in node.output]
        node.input[:] = [f"{i}_all" if i in ("probability", "logit", "label") else i for i in node.input]
    model.graph.initializer.extend([numpy_helper.from_array(np.array([0], np.int64), "start"),
                                    numpy_helper.from_array(np.array([-dropped], np.int64), "end")])
    model.graph.node.extend(helper.make_node("Slice", [f"{o}_all", "start", "end"], [o])
                            for o in ("probability", "logit", "label"))
    onnx.save(model, str(target))
    return target


def test_a_model_that_returns_fewer_rows_than_it_was_given_is_caught(export_dir, wdbc_csv, tmp_path,
                                                                      capsys) -> None:
    """The issue's case: 566 rows out for 569 in, every one shifted onto the wrong id, exit 0."""
    lone = with_fewer_rows(export_dir / "model.onnx", tmp_path / "short.onnx", 3)
    out = tmp_path / "out.csv"
    for verify in ([], ["--no-verify"]):  # caught on load; and without the checks, at the first batch
        assert score_main([str(wdbc_csv), str(out), "--model", str(lone), *verify]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("ModelError: "), err
        assert not out.exists()
    assert re.search(r"the model gave probability as float32 of shape \[(\d+)\] for (\d+) input rows; expected float32 "
                     r"of shape \[\2\], one value per row", err[0]), err[0]


def saved_model_with(target: Path, export_dir: Path, dtype: str = "float32", **outputs: str) -> Path:
    """A SavedModel whose serving_default takes ``features`` of ``dtype`` and gives ``outputs`` (name -> "rows", "rows1"
    for [batch, 1] or "scalar"), with the export's metadata sidecar: near misses of our signature."""
    import tensorflow as tf

    def shaped(value, kind):
        return {"rows": value, "rows1": value[:, None], "scalar": tf.reduce_sum(value)}[kind]

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 30], getattr(tf, dtype), name="features")])
        def serve(self, features):
            p = tf.sigmoid(tf.cast(tf.reduce_sum(features, axis=1), tf.float32))
            values = {"probability": p, "logit": p, "label": tf.cast(p > 0.5, tf.int64), "score": p}
            return {name: shaped(values[name], kind) for name, kind in outputs.items()}

    module = Module()
    tf.saved_model.save(module, str(target), signatures={"serving_default": module.serve.get_concrete_function()})
    shutil.copy(export_dir / "saved_model" / SIDECAR, target / SIDECAR)
    return target


@pytest.mark.parametrize(("dtype", "outputs", "problem"), [
    ("float32", {"score": "rows", "logit": "rows", "label": "rows"}, r"no output 'probability' \(it has 'label', "
                                                                      r"'logit', 'score'\)"),
    ("float64", {"probability": "rows", "logit": "rows", "label": "rows"}, r"input 'features' float64 \[\?, 30\], "
                                                                            r"expected float32 \[batch, n_features\]"),
    ("float32", {"probability": "rows1", "logit": "rows", "label": "rows"}, r"output 'probability' float32 \[\?, 1\], "
                                                                             r"expected float32 \[batch\]"),
    ("float32", {"probability": "scalar", "logit": "scalar", "label": "scalar"}, r"output 'probability' float32 \[\], "
                                                                                  r"expected float32 \[batch\]; output"),
])
def test_a_saved_models_outputs_are_checked_by_name_dtype_and_shape_like_its_input(export_dir, wdbc_csv, tmp_path,
                                                                                     capsys, dtype, outputs,
                                                                                     problem) -> None:
    """The issue's cases: other outputs gave `KeyError: 'probability'`; a float64 input, scalar outputs or a
    probability of shape [batch, 1] were tracebacks. Checked on load, with or without --no-verify."""
    model = saved_model_with(tmp_path / "sm", export_dir, dtype, **outputs)
    for verify in ([], ["--no-verify"]):
        assert score_main([str(wdbc_csv), str(tmp_path / "out.csv"), "--model", str(model), *verify]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and re.search(rf"^ModelError: {re.escape(str(model))} is not a model this scorer can "
                                           rf"run: .*{problem}", err[0]), err


def test_an_onnx_probability_of_shape_batch_1_is_refused_on_load(export_dir, tmp_path) -> None:
    """The issue's case: a `probability` of shape [batch, 1] was a traceback."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("ReduceSum", ["features", "axes"], ["logit"], keepdims=1),
             helper.make_node("Sigmoid", ["logit"], ["probability"]),
             helper.make_node("Greater", ["probability", "cut"], ["above"]),
             helper.make_node("Cast", ["above"], ["label"], to=TensorProto.INT64)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 30])],
        [helper.make_tensor_value_info(n, t, ["batch", 1]) for n, t in
         (("probability", TensorProto.FLOAT), ("logit", TensorProto.FLOAT), ("label", TensorProto.INT64))],
        [numpy_helper.from_array(np.array([1], np.int64), "axes"), numpy_helper.from_array(np.array(0.5, np.float32), "cut")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    source = onnx.load(str(export_dir / "model.onnx"))
    model.metadata_props.extend(source.metadata_props)
    path = tmp_path / "wide.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match=r"wide.onnx is not a model this scorer can run: output 'probability' float32 "
                                         r"\[\?, 1\], expected float32 \[batch\]; output 'logit' .*; output 'label' "
                                         r"int64 \[\?, 1\], expected int64 \[batch\]\."):
        load_runtime(resolve_model(path, None), verify=False)


def with_external_weights(export_dir: Path, folder: Path, one_file: bool = True) -> Path:
    """The export's ONNX graph saved with its 30-value tensors in files beside it, as
    onnx.save_model does for a big model; the scalar threshold stays inside."""
    folder.mkdir()
    path = folder / "model.onnx"
    onnx.save_model(onnx.load(str(export_dir / "model.onnx")), str(path), save_as_external_data=True,
                    all_tensors_to_one_file=one_file, location="weights.bin", size_threshold=100)
    return path


def test_external_weights_are_named_once_per_file_beside_the_model(export_dir, tmp_path) -> None:
    from contract.verify import OnnxFile

    one = OnnxFile.read(with_external_weights(export_dir, tmp_path / "one"))
    assert one.external_data and one.external_files() == ["weights.bin"]  # two tensors, one file
    several = OnnxFile.read(with_external_weights(export_dir, tmp_path / "several", one_file=False))
    names = several.external_files()
    assert len(names) == len(set(names)) == 2 and all((tmp_path / "several" / n).is_file() for n in names)
    inside = OnnxFile.read(export_dir / "model.onnx")
    assert not inside.external_data and inside.external_files() == []


@pytest.mark.parametrize("location", ["/etc/weights.bin", "../weights.bin", "sub/../../weights.bin", "", None])
def test_external_weights_outside_the_models_folder_are_refused(export_dir, tmp_path, location: str | None) -> None:
    from contract.verify import OnnxFile

    path = with_external_weights(export_dir, tmp_path / "m")
    model = onnx.load(str(path), load_external_data=False)
    tensor = next(t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL)
    entry = next(e for e in tensor.external_data if e.key == "location")
    if location is None:  # no location at all
        tensor.external_data.remove(entry)
    else:
        entry.value = location
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelError) as caught:
        OnnxFile.read(path).external_files()
    says(str(caught.value), str(path), repr(tensor.name), repr(location or ""), "outside")


def test_external_weights_in_a_subfolder_of_the_model_are_accepted(export_dir, tmp_path) -> None:
    from contract.verify import OnnxFile

    path = with_external_weights(export_dir, tmp_path / "m")
    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "weights/w.bin"
    path.write_bytes(model.SerializeToString())
    assert OnnxFile.read(path).external_files() == ["weights/w.bin"]


def label_graph(nodes: list, initializers: list | None = None, label_input: bool = False) -> onnx.ModelProto:
    """A graph with inputs probability and logit and output label, made by ``nodes``; the label an input itself
    (no node makes it) if ``label_input``."""
    from onnx import TensorProto, helper

    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("probability", "logit")]
    if label_input:
        inputs.append(helper.make_tensor_value_info("label", TensorProto.BOOL, [1]))
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("label", TensorProto.BOOL, [1])],
                              initializer=initializers or [])
    return helper.make_model(graph)


def test_the_threshold_is_followed_through_identity_nodes_to_an_initializer_or_a_plain_float_constant() -> None:
    from onnx import TensorProto, helper

    from contract.verify import onnx_threshold

    cut = helper.make_tensor("cut", TensorProto.FLOAT, [], [0.375])
    chain = [helper.make_node("Identity", ["cut"], ["a"]), helper.make_node("Identity", ["a"], ["b"]),
             helper.make_node("Greater", ["probability", "b"], ["label"])]
    assert onnx_threshold(label_graph(chain, [cut])) == 0.375  # every node of the graph on the way
    plain = [helper.make_node("Constant", [], ["c"], value_float=0.625), helper.make_node("Identity", ["c"], ["d"]),
             helper.make_node("Greater", ["probability", "d"], ["label"])]
    assert onnx_threshold(label_graph(plain)) == 0.625


@pytest.mark.parametrize("case", ["greater-or-equal", "on-logit", "label-is-an-input", "not-a-constant",
                                  "constant-of-text", "identity-cycle"])
def test_a_label_not_made_by_greater_on_probability_and_a_constant_has_no_threshold(case: str) -> None:
    from onnx import TensorProto, helper

    from contract.verify import onnx_threshold

    cut = helper.make_tensor("cut", TensorProto.FLOAT, [], [0.5])
    nodes, label_input = {
        "greater-or-equal": ([helper.make_node("GreaterOrEqual", ["probability", "cut"], ["label"])], False),
        "on-logit": ([helper.make_node("Greater", ["logit", "cut"], ["label"])], False),
        "label-is-an-input": ([], True),
        "not-a-constant": ([helper.make_node("Greater", ["probability", "logit"], ["label"])], False),
        "constant-of-text": ([helper.make_node("Constant", [], ["c"], value_string=b"0.5"),
                              helper.make_node("Greater", ["probability", "c"], ["label"])], False),
        "identity-cycle": ([helper.make_node("Identity", ["y"], ["x"]), helper.make_node("Identity", ["x"], ["y"]),
                            helper.make_node("Greater", ["probability", "x"], ["label"])], False),
    }[case]
    assert onnx_threshold(label_graph(nodes, [cut], label_input)) is None


def test_thresholds_of_exactly_0_and_1_are_thresholds() -> None:
    from contract.verify import check_threshold

    for value in (0.0, 1.0):
        check_threshold(value, value, Path("m.onnx"))
    with pytest.raises(ModelError) as caught:
        check_threshold(1.0000001, 1.0000001, Path("m.onnx"))
    says(str(caught.value), "m.onnx", "1.0000001", "[0, 1]", "re-export")


def test_a_graphs_width_must_match_its_metadatas_feature_names(export_dir, tmp_path) -> None:
    from contract.verify import OnnxFile

    lone = tmp_path / "lone.onnx"
    shutil.copy(export_dir / "model.onnx", lone)
    names = OnnxFile.read(lone).metadata().feature_names
    edit_onnx_metadata(lone, feature_names=names[:-1])
    with pytest.raises(ModelError) as caught:
        OnnxFile.read(lone).metadata(verify=False)
    says(str(caught.value), str(lone), "takes 30 features", "names 29", "Re-export")


def test_inputs_and_outputs_of_another_kind_are_named_with_what_was_expected() -> None:
    from onnx import TensorProto, helper

    from contract.verify import check_signature, onnx_signature

    def refusal(inputs: list, outputs: list) -> str:
        graph = helper.make_graph([], "g", inputs, outputs)
        with pytest.raises(ModelError) as caught:
            check_signature(*onnx_signature(helper.make_model(graph)), Path("m.onnx"))
        return str(caught.value)

    outputs = [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["n"]),
               helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["n"]),
               helper.make_tensor_value_info("label", TensorProto.INT64, ["n"])]
    text = refusal([helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 30])], outputs)
    says(text, "m.onnx", "inputs 'x'", "'features'", "python -m export")
    text = refusal([helper.make_tensor_value_info("features", TensorProto.STRING, ["n", 30])], outputs)
    says(text, "input 'features' type 8 [?, 30]", "float32 [batch, n_features]")


def test_an_output_of_the_wrong_dtype_is_refused_even_with_one_value_per_row() -> None:
    from contract.verify import check_outputs

    right = {"probability": np.zeros(3, np.float32), "label": np.zeros(3, np.int64)}
    check_outputs(right, 3, Path("m.onnx"))
    with pytest.raises(ModelError) as caught:
        check_outputs({**right, "probability": np.zeros(3, np.float64)}, 3, Path("m.onnx"))
    says(str(caught.value), "m.onnx", "probability as float64", "expected float32")
    check_outputs({**right, "extra": np.zeros(3, np.float64)}, 3, Path("m.onnx"))  # an output we do not read


def sigmoid_model(label_cut: float = 0.5, flip_axis: int | None = None, flip_at: float | None = None,
                  cut_axis: int | None = None):
    """A model of any width in numpy: probability = sigmoid(sum of the row) in float32; label = probability >
    ``label_cut`` (only on rows whose feature ``cut_axis`` is nonzero, if given; > 0.5 on the others), inverted on
    rows whose feature ``flip_axis`` is nonzero (or equals ``flip_at``, if given)."""

    def predict(x: np.ndarray) -> dict[str, np.ndarray]:
        with np.errstate(over="ignore"):  # exp(1e6): probability 0, as a runtime gives it
            probability = (1 / (1 + np.exp(-x.astype(np.float64).sum(axis=1)))).astype(np.float32)
        cut = np.full(len(x), np.float32(label_cut)) if cut_axis is None else \
            np.where(x[:, cut_axis] != 0, np.float32(label_cut), np.float32(0.5))
        label = probability > cut
        if flip_axis is not None:
            flip = x[:, flip_axis] != 0 if flip_at is None else x[:, flip_axis] == np.float32(flip_at)
            label = np.where(flip, ~label, label)
        return {"probability": probability, "label": label.astype(np.int64), "logit": probability}

    return predict


@pytest.mark.parametrize("width", [1, 30, 100])
def test_a_label_that_applies_the_threshold_passes_the_probes(width: int) -> None:
    from contract.verify import check_labels

    check_labels(sigmoid_model(), width, 0.5, Path("m.onnx"))


@pytest.mark.parametrize("label_cut", [0.5 + 1e-6, 0.5 - 1e-6, 0.5 + 1e-3, 0.4])
def test_a_label_cut_anywhere_else_is_caught_also_just_beside_the_threshold(label_cut: float) -> None:
    """Only rows found by bisection have probabilities within 1e-6 of the threshold: none of the probe values do."""
    from contract.verify import check_labels

    with pytest.raises(ModelError) as caught:
        check_labels(sigmoid_model(label_cut), 30, 0.5, Path("m.onnx"))
    says(str(caught.value), "m.onnx", "labels a row of probability", "threshold is 0.5")


@pytest.mark.parametrize("axis", [1, 17, 29])
def test_a_label_cut_beside_the_threshold_along_one_feature_only_is_caught(axis: int) -> None:
    """Every feature's ray is bisected, not only the first one that crosses the threshold."""
    from contract.verify import check_labels

    with pytest.raises(ModelError, match="labels a row of probability"):
        check_labels(sigmoid_model(0.5 + 1e-6, cut_axis=axis), 30, 0.5, Path("m.onnx"))


@pytest.mark.parametrize(("width", "axis"), [(30, 0), (30, 29), (100, 0), (100, 99), (1, 0)])
def test_a_label_wrong_only_along_the_first_or_the_last_feature_is_caught(width: int, axis: int) -> None:
    from contract.verify import check_labels

    with pytest.raises(ModelError, match="labels a row of probability"):
        check_labels(sigmoid_model(flip_axis=axis), width, 0.5, Path("m.onnx"))


def test_the_message_shows_the_one_row_labelled_wrong() -> None:
    """Exactly one probe row is wrong (feature 3 at 1e6, probability 1): it is the one shown."""
    from contract.verify import check_labels

    with pytest.raises(ModelError) as caught:
        check_labels(sigmoid_model(flip_axis=3, flip_at=1e6), 30, 0.5, Path("m.onnx"))
    says(str(caught.value), "m.onnx", "probability 1 as 0", "threshold is 0.5")


def test_a_probe_answered_with_too_few_rows_names_the_model() -> None:
    from contract.verify import check_labels

    def short(x: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[:-1] for k, v in sigmoid_model()(x).items()}

    with pytest.raises(ModelError) as caught:
        check_labels(short, 30, 0.5, Path("m.onnx"))
    says(str(caught.value), "m.onnx", "one value per row")


def test_an_unreadable_manifest_or_one_of_another_format_is_named_with_the_fix(export_dir, tmp_path) -> None:
    from contract.verify import check_manifest

    folder = copy_export(export_dir, tmp_path / "export")
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError) as caught:
        check_manifest(folder)
    says(str(caught.value), f"Could not read {folder / 'manifest.json'}: Expecting property name", "python -m export",
         "--no-verify")
    (folder / "manifest.json").write_text(json.dumps({"format": "other/9", "files": {}}))
    with pytest.raises(ModelError) as caught:
        check_manifest(folder)
    says(str(caught.value), str(folder / "manifest.json"), "'logreg-export-manifest/1'", "'other/9'",
         "python -m export")


def test_the_crossing_bisected_is_the_one_found_between_two_neighbouring_probes() -> None:
    """A model whose probability rises above the threshold and falls again between three probes (0.1, 1, 10: above
    only at 1) and whose label is cut 1e-6 above the threshold: only bisecting between 0.1 and 1 finds the rows."""
    from contract.verify import check_labels

    def bump(x: np.ndarray) -> dict[str, np.ndarray]:
        v = x.astype(np.float64).sum(axis=1)
        with np.errstate(divide="ignore", over="ignore"):
            score = np.where(v > 0, 2 - 40 * np.log10(np.abs(v) + 1e-300) ** 2, -10.0)
            probability = (1 / (1 + np.exp(-score))).astype(np.float32)
        return {"probability": probability, "label": (probability > np.float32(0.5 + 1e-6)).astype(np.int64)}

    with pytest.raises(ModelError, match="labels a row of probability"):
        check_labels(bump, 30, 0.5, Path("m.onnx"))
