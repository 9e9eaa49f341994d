"""get_config / from_config keep the whole architecture: activations' settings, initializers, regularizers."""
import json

import numpy as np
import pytest

import mlplab as ml


def test_config_round_trip_keeps_initializers_regularizers_and_activation_settings():
    model = ml.Sequential([
        ml.Dense(4, ml.LeakyReLU(alpha=0.2), kernel_initializer=ml.RandomNormal(stddev=1.0),
                 bias_initializer=ml.Constant(0.5), kernel_regularizer=ml.L1L2(l1=0.01, l2=0.1), input_dim=3),
        ml.BatchNormalization(momentum=0.9),
        ml.Dropout(0.25),
        ml.Dense(2, "softmax", kernel_initializer="he_normal", kernel_regularizer=ml.L2(0.05)),
    ], seed=7, dtype="float64")
    config = json.loads(json.dumps(model.get_config()))          # plain JSON, no objects
    clone = ml.Sequential.from_config(config)
    assert clone.get_config() == config
    for a, b in zip(model.get_weights(), clone.get_weights()):   # same seed, same initializers
        np.testing.assert_array_equal(a, b)
    assert clone.layers[0].activation.alpha == 0.2
    assert clone.layers[0].kernel_regularizer.l1 == 0.01 and clone.layers[3].kernel_regularizer.l2 == 0.05
    assert clone.regularization_loss() == pytest.approx(model.regularization_loss())


def test_custom_initializer_function_cannot_be_saved():
    layer = ml.Dense(2, kernel_initializer=lambda shape, rng, dtype: np.zeros(shape, dtype))
    with pytest.raises(ValueError, match="registered initializer"):
        layer.get_config()


def test_unknown_class_in_config_lists_valid_ones():
    with pytest.raises(ValueError, match="Valid class names"):
        ml.Dense(2, kernel_initializer={"class_name": "Nope", "config": {}})


def test_variance_scaling_matches_its_formula_and_round_trips():
    init = ml.VarianceScaling(scale=1 / 3, mode="fan_in", distribution="uniform")  # PyTorch's nn.Linear default
    weights = init((400, 50), np.random.default_rng(0), np.float64)
    limit = 1 / np.sqrt(400)
    assert np.abs(weights).max() <= limit and np.abs(weights).max() > 0.99 * limit
    assert weights.var() == pytest.approx(1 / 3 / 400, rel=0.05)
    normal = ml.VarianceScaling(2.0, "fan_avg", "normal")((400, 100), np.random.default_rng(0))
    assert normal.std() == pytest.approx(np.sqrt(2.0 / 250), rel=0.05)
    # the named initializers are fixed VarianceScaling settings: He uniform is scale 2, fan_in, uniform
    he = ml.HeUniform()((30, 20), np.random.default_rng(3))
    np.testing.assert_array_equal(he, ml.VarianceScaling(2.0)((30, 20), np.random.default_rng(3)))
    model = ml.Sequential([ml.Dense(3, kernel_initializer=init, input_dim=2)], seed=1)
    clone = ml.Sequential.from_config(json.loads(json.dumps(model.get_config())))
    np.testing.assert_array_equal(clone.get_weights()[0], model.get_weights()[0])
    with pytest.raises(ValueError, match="mode"):
        ml.VarianceScaling(mode="fan")
    with pytest.raises(ValueError, match="distribution"):
        ml.VarianceScaling(distribution="truncated")
    with pytest.raises(ValueError, match="scale"):
        ml.VarianceScaling(scale=0)
