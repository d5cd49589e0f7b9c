"""Tests for model.classifier: Normalize's statistics, the serving outputs of every family, and the protocol."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from model.classifier import NETS, Classifier, Normalize
from model.families import FAMILIES, ModelSpec

SPECS = {"logreg": ModelSpec(), "mlp": ModelSpec.of("mlp", hidden=(8, 4))}


def test_adapt_matches_reduce_std_bitwise_and_keeps_constant_columns() -> None:
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(5_003, 4)) * [1e-3, 1.0, 250.0, 0.0] + [7.0, -3.0, 1e4, 2.5]).astype(np.float32)
    normalize = Normalize(4)
    normalize.adapt(x)
    assert normalize.mean.numpy().tobytes() == tf.reduce_mean(x, axis=0).numpy().tobytes()
    expected_std = tf.math.reduce_std(x, axis=0).numpy()
    assert normalize.std.numpy()[:3].tobytes() == expected_std[:3].tobytes()
    assert normalize.std.numpy()[3] == 1.0  # a constant column is left unscaled, not divided by zero


def test_every_family_the_cli_offers_is_registered_with_its_own_names() -> None:
    assert sorted(NETS) == sorted(FAMILIES)
    for family, net in NETS.items():
        assert net.family == family and net.compute_dtype in ("float32", "float64")
    assert len({net.checkpoint_format for net in NETS.values()}) == len(NETS)
    assert len({net.attribute for net in NETS.values()}) == len(NETS)


def _fitted(family: str) -> tuple[Classifier, np.ndarray]:
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(1_001, 6)) * [1, 10, 100, 0.1, 5, 2]).astype(np.float32)
    classifier = Classifier(6, seed=3, threshold=0.4, spec=SPECS[family])
    classifier.normalize.adapt(x)
    return classifier, x


def test_logistic_regression_outputs_in_blocks_equal_one_call_bitwise_including_a_short_last_block() -> None:
    classifier, x = _fitted("logreg")
    whole = {name: t.numpy() for name, t in classifier.outputs(x).items()}
    blocks = classifier.outputs_in_blocks(x, rows=100)  # 10 blocks of 100 and one of 1
    assert set(blocks) == {"probability", "logit", "label"}
    for name, values in whole.items():
        assert blocks[name].dtype == values.dtype and blocks[name].tobytes() == values.tobytes(), name
    assert classifier.outputs_in_blocks(x[:0])["label"].shape == (0,)


def test_mlp_outputs_in_blocks_equal_one_call_to_float32_rounding() -> None:
    """A float32 matrix product sums a row in an order that may depend on its place in the batch (TensorFlow's
    kernels treat a block's last rows apart), so blocks agree with one call to a few ulps, not bitwise."""
    classifier, x = _fitted("mlp")
    whole = {name: t.numpy() for name, t in classifier.outputs(x).items()}
    blocks = classifier.outputs_in_blocks(x, rows=100)
    for name, values in whole.items():
        assert blocks[name].dtype == values.dtype, name
    np.testing.assert_allclose(blocks["logit"], whole["logit"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(blocks["label"], whole["label"])


@pytest.mark.parametrize("family", FAMILIES)
def test_outputs_are_the_training_logits_through_the_sigmoid_and_the_threshold(family: str) -> None:
    classifier, x = _fitted(family)
    out = classifier.outputs(x)
    trained = classifier.logits(x).numpy().astype(np.float64)
    np.testing.assert_allclose(out["logit"].numpy(), trained, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["probability"].numpy(), 1 / (1 + np.exp(-trained)), rtol=1e-5, atol=1e-6)
    assert (out["label"].numpy() == (out["probability"].numpy() > np.float32(0.4))).all()
    assert {k: v.dtype for k, v in out.items()} == {"probability": tf.float32, "logit": tf.float32, "label": tf.int64}


def test_a_checkpoint_names_a_familys_variables_under_its_attribute(tmp_path) -> None:
    """Logistic regression's variables keep the names they had before families (classifier/logistic/w), so a
    training run saved by an older version restores."""
    for family, expected in (("logreg", {"logistic/w", "logistic/b"}),
                             ("mlp", {"mlp/kernels/0", "mlp/kernels/2", "mlp/biases/2"})):
        classifier = Classifier(6, spec=SPECS[family])
        path = tf.train.Checkpoint(classifier=classifier).write(str(tmp_path / family / "c"))
        names = {name.split("/.ATTRIBUTES")[0].removeprefix("classifier/") for name, _ in tf.train.list_variables(path)}
        assert expected <= names, (family, sorted(names))
        assert classifier.net is getattr(classifier, NETS[family].attribute)
