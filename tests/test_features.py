"""The Features layer: values, gradients (finite differences), config round-trip, registry lookup, bad input."""
import numpy as np
import pytest

import mlplab as ml
from mlplab.core.features import FEATURES


def test_values_match_the_formulas():
    x = np.array([[0.5, -2.0], [3.0, 1.5]])
    out = ml.Features(list(FEATURES)).forward(x)
    a, b = x[:, 0], x[:, 1]
    expected = np.stack([a, b, a * a, b * b, a * b, np.sin(a), np.sin(b)], axis=1)
    np.testing.assert_allclose(out, expected)


def test_gradient_matches_finite_differences():
    layer = ml.Features(list(FEATURES))
    result = ml.gradcheck(layer, np.random.default_rng(0).normal(size=(5, 2)))
    assert result.ok, result


def test_model_with_features_builds_at_once_and_round_trips_through_config():
    model = ml.Sequential([ml.Features(["x1", "x1*x2"]), ml.Dense(3, "tanh"), ml.Dense(1, "sigmoid")], seed=0)
    assert model.built and model.input_shape == (2,)
    clone = ml.Sequential.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(1).normal(size=(7, 2))
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    assert ml.LAYERS.get("Features") is ml.Features


@pytest.mark.parametrize("features", [[], ["x3"], ["x1", "x1"], "x1", None])
def test_bad_feature_lists_name_the_argument(features):
    with pytest.raises(ValueError, match="features"):
        ml.Features(features)


def test_wrong_input_width_is_rejected():
    with pytest.raises(ValueError, match="n_samples, 2"):
        ml.Sequential([ml.Features(["x1"]), ml.Dense(1)]).predict(np.zeros((3, 3)))
