"""Tests for model.families: what --model, --hidden and --activation ask for, checked before TensorFlow loads."""

from __future__ import annotations

import pytest

from model.errors import ConfigError
from model.families import DEFAULT_HIDDEN, ModelSpec
from tests.expect import says


def test_the_families_defaults() -> None:
    assert ModelSpec.of("logreg") == ModelSpec() == ModelSpec("logreg", (), None)
    assert ModelSpec.of("mlp") == ModelSpec("mlp", DEFAULT_HIDDEN, "relu") == ModelSpec("mlp", (32, 16), "relu")
    assert ModelSpec.of("mlp", (64,), "tanh") == ModelSpec("mlp", (64,), "tanh")


def test_the_shape_is_recorded_and_read_back() -> None:
    spec = ModelSpec.of("mlp", (8, 4), "tanh")
    assert spec.architecture(30) == {"layer_widths": [30, 8, 4, 1], "activation": "tanh"}
    assert ModelSpec.from_architecture("mlp", spec.architecture(30)) == spec
    assert ModelSpec().architecture(3) == {"layer_widths": [3, 1], "activation": None}
    assert ModelSpec.from_architecture("logreg", None) == ModelSpec()  # a run from before families recorded none
    assert (spec.describe(30), ModelSpec().describe(30)) == ("mlp 30-8-4-1 tanh", "logreg")


@pytest.mark.parametrize(("args", "facts"), [
    (("svm",), ["--model must be one of 'logreg', 'mlp'", "'svm'"]),
    (("logreg", (8,)), ["--hidden", "--model logreg has no hidden layers", "--model mlp"]),
    (("logreg", None, "tanh"), ["--activation", "--model logreg", "--model mlp"]),
    (("mlp", (32, 0)), ["--hidden must be one or more positive layer widths", "32,0"]),
    (("mlp", ()), ["--hidden", "none"]),
    (("mlp", None, "sigmoid"), ["--activation must be one of 'relu', 'tanh'", "'sigmoid'"]),
])
def test_a_request_out_of_range_names_the_option(args, facts) -> None:
    with pytest.raises(ConfigError) as caught:
        ModelSpec.of(*args)
    says(str(caught.value), *facts)


def test_a_recorded_shape_that_is_not_the_familys_is_refused() -> None:
    with pytest.raises(ConfigError, match="--model logreg has no hidden layers"):
        ModelSpec.from_architecture("logreg", {"layer_widths": [30, 8, 1], "activation": "relu"})
    with pytest.raises(ConfigError, match="--activation must be one of"):
        ModelSpec.from_architecture("mlp", {"layer_widths": [30, 8, 1], "activation": None})
