"""Forward passes of each layer and activation against their formulas, and the layers' modes
(BatchNormalization's batch vs moving statistics, Dropout's inverted scaling, Flatten's reshape)."""
import numpy as np
import pytest

import mlplab as ml
from mlplab.core.layers import layer_from_config


def build(layer, input_shape, dtype=np.float64, seed=0):
    layer.build(input_shape, np.random.default_rng(seed), dtype)
    return layer


# -- Dense -------------------------------------------------------------------------------------------

def test_dense_computes_x_w_plus_b_then_the_activation(rng):
    layer = build(ml.Dense(4, activation="tanh"), (3,))
    layer.params["bias"][...] = rng.normal(size=4)
    x = rng.normal(size=(5, 3))
    out = layer.forward(x)
    z = x @ layer.params["weight"] + layer.params["bias"]
    assert layer.params["weight"].shape == (3, 4) and layer.params["bias"].shape == (4,)
    np.testing.assert_allclose(out, np.tanh(z), rtol=1e-12)
    assert layer.count_params() == 3 * 4 + 4


def test_dense_without_bias_has_only_a_weight():
    layer = build(ml.Dense(2, use_bias=False), (3,))
    assert list(layer.params) == ["weight"] and layer.count_params() == 6
    x = np.ones((1, 3))
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["weight"])


def test_dense_backward_overwrites_gradients_instead_of_accumulating(rng):
    layer = build(ml.Dense(2), (3,))
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    layer.forward(x, training=True)
    layer.backward(g)
    first = {k: v.copy() for k, v in layer.grads.items()}
    layer.forward(x, training=True)
    layer.backward(g)
    for key in first:
        np.testing.assert_array_equal(layer.grads[key], first[key])
    np.testing.assert_allclose(first["weight"], x.T @ g)
    np.testing.assert_allclose(first["bias"], g.sum(axis=0))


def test_dense_repr_shows_its_shape():
    assert repr(build(ml.Dense(4, "relu"), (3,))) == "Dense(3 -> 4, activation='relu')"


# -- activations: forward against their formulas -------------------------------------------------------

Z = np.array([[-30.0, -2.0, -0.5, 0.0, 0.5, 2.0, 30.0]])


@pytest.mark.parametrize("name, formula", [
    ("linear", lambda z: z),
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
    ("tanh", np.tanh),
    ("relu", lambda z: np.maximum(z, 0)),
    ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z)),
    ("elu", lambda z: np.where(z > 0, z, np.exp(z) - 1)),
    ("softplus", lambda z: np.log(1 + np.exp(z))),
    ("step", lambda z: (z > 0).astype(float)),
])
def test_activation_forward_matches_its_formula(name, formula):
    layer = ml.Activation(name)
    np.testing.assert_allclose(layer.forward(Z, training=True), formula(Z), rtol=1e-12, atol=1e-15)


def test_softmax_rows_are_probabilities_even_for_huge_logits():
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    out = ml.Activation("softmax").forward(z)
    e = np.exp(z[0] - 3)
    np.testing.assert_allclose(out[0], e / e.sum(), rtol=1e-12)
    np.testing.assert_allclose(out[1], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_sigmoid_and_softplus_do_not_overflow_for_large_inputs():
    z = np.array([[-1000.0, 1000.0]])
    np.testing.assert_array_equal(ml.Activation("sigmoid").forward(z), [[0.0, 1.0]])
    np.testing.assert_allclose(ml.Activation("softplus").forward(z), [[0.0, 1000.0]])


def test_unknown_activation_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="relu") as info:
        ml.Activation("relu6")
    assert "sigmoid" in str(info.value) and "'relu6'" in str(info.value)


# -- BatchNormalization ----------------------------------------------------------------------------------

def test_batchnorm_training_uses_batch_statistics_and_updates_moving_averages(rng):
    layer = build(ml.BatchNormalization(momentum=0.9, epsilon=1e-3), (3,))
    x = rng.normal(loc=[1.0, -2.0, 5.0], scale=[0.5, 2.0, 3.0], size=(64, 3))
    out = layer.forward(x, training=True)
    mean, var = x.mean(axis=0), x.var(axis=0)  # biased variance, as in the paper
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-10)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    # moving = momentum·moving + (1 − momentum)·batch, from the initial 0 and 1.
    np.testing.assert_allclose(layer.state["moving_mean"], 0.9 * 0.0 + 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(layer.state["moving_variance"], 0.9 * 1.0 + 0.1 * var, rtol=1e-12)
    # A second batch moves them again.
    x2 = rng.normal(size=(64, 3))
    layer.forward(x2, training=True)
    np.testing.assert_allclose(layer.state["moving_mean"], 0.9 * 0.1 * mean + 0.1 * x2.mean(axis=0), rtol=1e-12)


def test_batchnorm_inference_uses_moving_averages_and_leaves_them_alone(rng):
    layer = build(ml.BatchNormalization(epsilon=1e-3), (2,))
    layer.params["gamma"][...] = [2.0, 0.5]
    layer.params["beta"][...] = [1.0, -1.0]
    layer.state["moving_mean"][...] = [3.0, -4.0]
    layer.state["moving_variance"][...] = [4.0, 0.25]
    x = rng.normal(size=(5, 2))
    out = layer.forward(x, training=False)
    expected = np.array([2.0, 0.5]) * (x - [3.0, -4.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-3) + [1.0, -1.0]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_array_equal(layer.state["moving_mean"], [3.0, -4.0])
    # A single sample works at inference (no batch statistics needed).
    assert layer.forward(x[:1]).shape == (1, 2)


def test_batchnorm_normalises_each_feature_of_3d_input_over_batch_and_time(rng):
    layer = build(ml.BatchNormalization(epsilon=1e-5), (4, 3))
    x = rng.normal(loc=[0.0, 10.0, -5.0], size=(8, 4, 3))
    out = layer.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=(0, 1)), 0.0, atol=1e-10)
    np.testing.assert_allclose(layer.state["moving_mean"], 0.01 * x.mean(axis=(0, 1)), rtol=1e-10)


def test_batchnorm_weights_are_gamma_beta_moving_mean_moving_variance():
    layer = build(ml.BatchNormalization(), (3,))
    names = list(layer.params) + list(layer.state)
    assert names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.shape for w in layer.get_weights()] == [(3,)] * 4
    assert layer.count_params() == 6  # trainable: gamma and beta


# -- Dropout ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_dropout_is_inverted_so_the_mean_is_preserved(rate):
    layer = build(ml.Dropout(rate), (1000,))
    x = np.ones((1000, 1000))
    out = layer.forward(x, training=True)
    kept = out != 0
    assert abs(1 - kept.mean() - rate) < 0.005  # about `rate` of the units are dropped
    np.testing.assert_allclose(out[kept], 1 / (1 - rate))  # the rest are scaled up
    assert abs(out.mean() - 1.0) < 0.02
    # backward uses the same mask
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), out)


def test_dropout_is_the_identity_at_inference_and_for_rate_zero(rng):
    x = rng.normal(size=(20, 5))
    layer = build(ml.Dropout(0.5), (5,))
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    np.testing.assert_array_equal(build(ml.Dropout(0.0), (5,)).forward(x, training=True), x)


def test_dropout_masks_come_from_the_layer_rng():
    a, b = build(ml.Dropout(0.5), (10,), seed=1), build(ml.Dropout(0.5), (10,), seed=1)
    x = np.ones((4, 10))
    np.testing.assert_array_equal(a.forward(x, training=True), b.forward(x, training=True))
    assert not np.array_equal(a.forward(x, training=True), build(ml.Dropout(0.5), (10,), seed=2).forward(
        x, training=True))


# -- Flatten --------------------------------------------------------------------------------------------------

def test_flatten_reshapes_and_its_backward_restores_the_shape(rng):
    layer = build(ml.Flatten(), (28, 28))
    x = rng.normal(size=(3, 28, 28))
    out = layer.forward(x, training=True)
    assert out.shape == (3, 784) and layer.compute_output_shape((28, 28)) == (784,)
    np.testing.assert_array_equal(out[1], x[1].ravel())
    np.testing.assert_array_equal(layer.backward(out), x)


def test_flatten_lets_images_into_a_dense_layer(rng):
    model = ml.Sequential([ml.Flatten(input_shape=(28, 28)), ml.Dense(10, "softmax")], seed=0)
    assert model.built and model.get_weights()[0].shape == (784, 10)
    x = rng.uniform(size=(16, 28, 28))
    y = rng.integers(0, 10, 16)
    assert model.predict(x).shape == (16, 10)
    model.compile(ml.SGD(0.1), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert len(history.history["loss"]) == 2
    # without Flatten, images are refused with a hint
    with pytest.raises(ValueError, match="Flatten"):
        ml.Sequential([ml.Dense(10)]).build((28, 28))


# -- config round trip of each layer -------------------------------------------------------------------------

@pytest.mark.parametrize("layer", [
    ml.Dense(3, "relu", use_bias=False, input_dim=4, name="hidden"),
    ml.Dense(2, "leaky_relu"),
    ml.Activation("softmax"),
    ml.Dropout(0.25),
    ml.BatchNormalization(momentum=0.9, epsilon=1e-5),
    ml.Flatten(input_shape=(2, 3)),
], ids=lambda layer: type(layer).__name__)
def test_layer_config_round_trip(layer):
    clone = layer_from_config(type(layer).__name__, layer.get_config())
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    assert repr(clone) == repr(layer)
